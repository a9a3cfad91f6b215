-- wrk script: POSTs the requests of a BSC1 corpus (written by loadtest/run) in turn, and prints
-- one machine-readable summary line at the end.
--   wrk -t1 -c64 -d10s -s corpus.lua http://127.0.0.1:PORT -- CORPUS.bin /CLIENT_ID/bids
local requests = {}
local count = 0
local next_index = 1

local function load(path, target)
  local f = assert(io.open(path, "rb"))
  local head = f:read("*l")
  local n = tonumber(head:match("^BSC1 (%d+)$"))
  assert(n and n > 0, "not a BSC1 corpus: " .. path)
  for i = 1, n do
    local meta = f:read("*l")
    local flag, _, len = meta:match("^(%S+) (%S+) (%d+)$")
    local body = f:read(tonumber(len))
    f:read(1)
    local headers = {
      ["Content-Type"] = "application/json",
      ["x-openrtb-version"] = "2.5",
    }
    if flag == "g" then
      headers["Content-Encoding"] = "gzip"
    end
    requests[i] = wrk.format("POST", target, headers, body)
  end
  f:close()
  return n
end

function init(args)
  count = load(args[1], args[2] or "/")
  next_index = 1
end

function request()
  local r = requests[next_index]
  next_index = next_index + 1
  if next_index > count then
    next_index = 1
  end
  return r
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
