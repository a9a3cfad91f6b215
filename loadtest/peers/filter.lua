-- The nginx + Lua peer: what an operator would hand-build instead of bidsieve. It decodes the
-- whole bid request with cjson, reads the same fields (SPEC 2.4) and evaluates the same tree
-- (SPEC 3.2) that bidsieve's main customer has, from the spec JSON loadtest/run writes; the
-- big user list is a Lua table loaded once in the master (shared copy-on-write by the worker).
-- Dropped requests end with 204 in the access phase; the rest fall through to proxy_pass.
--
-- nginx.conf: init_by_lua_block { filter = require("filter"); filter.load(SPEC, USERS, SUPPLIER) }
--             access_by_lua_block { filter.access() }
local cjson = require("cjson.safe")

local M = {}

local tree
local supplier_id
local null = cjson.null

local ALPHA3 = {
  USA = "US", GBR = "GB", CAN = "CA", DEU = "DE", FRA = "FR", ESP = "ES", ITA = "IT",
  NLD = "NL", SWE = "SE", AUS = "AU", JPN = "JP", BRA = "BR", RUS = "RU", CHN = "CN",
  IND = "IN", MEX = "MX", IDN = "ID", TUR = "TR", VNM = "VN", PAK = "PK",
}

local AND, OR, WHITE, BLACK, GE, LT = 1, 2, 3, 4, 5, 6

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do
    s[tostring(v)] = true
  end
  return s
end

local function compile(node, users)
  local kind, field = node.filter_type, node.field_type
  if kind == "boolean" then
    local children = {}
    for i, c in ipairs(node.filters or {}) do
      children[i] = compile(c, users)
    end
    return { op = (field == "and") and AND or OR, children = children }
  elseif kind == "threshold" then
    return { op = (node.operator == "greaterthan") and GE or LT, threshold = node.threshold }
  end
  local set
  if node.user_list then
    set = users
  else
    set = set_of(node.list)
  end
  return { op = (kind == "white") and WHITE or BLACK, field = field, set = set }
end

function M.load(spec_path, users_path, supplier)
  local f = assert(io.open(spec_path, "rb"))
  local spec = assert(cjson.decode(f:read("*a")))
  f:close()
  local users = {}
  if users_path and users_path ~= "" then
    for line in io.lines(users_path) do
      users[line] = true
    end
  end
  tree = compile(spec.tree, users)
  supplier_id = tostring(supplier)
end

local function obj(v)
  if type(v) == "table" then
    return v
  end
  return nil
end

-- The fields of a decoded request (SPEC 2.4).
local function fields(req)
  local f = { size = {} }
  local user = obj(req.user)
  if user and type(user.id) == "string" then
    f.user = user.id
  end
  local device = obj(req.device)
  local geo = device and obj(device.geo)
  local country = geo and geo.country
  if type(country) ~= "string" then
    local ugeo = user and obj(user.geo)
    country = ugeo and ugeo.country
  end
  if type(country) == "string" then
    local c = string.upper(country)
    c = ALPHA3[c] or c
    if c == "UK" then
      c = "GB"
    end
    f.country = c
  end
  local imps = obj(req.imp)
  if imps then
    local n = 0
    for _, imp in ipairs(imps) do
      local banner = obj(imp) and obj(imp.banner)
      if banner then
        if type(banner.w) == "number" and type(banner.h) == "number" then
          n = n + 1
          f.size[n] = banner.w .. "x" .. banner.h
        end
        local formats = obj(banner.format)
        if formats then
          for _, fmt in ipairs(formats) do
            if obj(fmt) and type(fmt.w) == "number" and type(fmt.h) == "number" then
              n = n + 1
              f.size[n] = fmt.w .. "x" .. fmt.h
            end
          end
        end
      end
    end
  end
  local site = obj(req.site)
  if site and type(site.domain) == "string" then
    local d = string.lower(site.domain)
    if string.sub(d, 1, 4) == "www." then
      d = string.sub(d, 5)
    end
    f.domain = d
  else
    local app = obj(req.app)
    if app and type(app.bundle) == "string" then
      f.domain = app.bundle
    end
  end
  local ext = obj(req.ext)
  local auth = ext and obj(ext.authenticated)
  local authed = auth and obj(auth.authed)
  if authed and type(authed.score) == "number" then
    f.authed = authed.score
  end
  f.uid2_status = "NONE"
  return f
end

local function eval(node, f)
  local op = node.op
  if op == AND then
    for _, c in ipairs(node.children) do
      if not eval(c, f) then
        return false
      end
    end
    return true
  elseif op == OR then
    for _, c in ipairs(node.children) do
      if eval(c, f) then
        return true
      end
    end
    return false
  elseif op == GE then
    return f.authed ~= nil and f.authed >= node.threshold
  elseif op == LT then
    return f.authed ~= nil and f.authed < node.threshold
  end
  local hit = false
  local field = node.field
  if field == "size" then
    for _, v in ipairs(f.size) do
      if node.set[v] then
        hit = true
        break
      end
    end
  else
    local v
    if field == "supplier" then
      v = supplier_id
    else
      v = f[field]
    end
    hit = v ~= nil and node.set[v] == true
  end
  if op == WHITE then
    return hit
  end
  return not hit
end

M.evaluate = function(req)
  return eval(tree, fields(req))
end

function M.access()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    return ngx.exit(400)
  end
  local req = cjson.decode(body)
  if type(req) ~= "table" or type(req.id) ~= "string" or type(req.imp) ~= "table" or req.imp[1] == nil or req.imp == null then
    return ngx.exit(400)
  end
  if not eval(tree, fields(req)) then
    return ngx.exit(204)
  end
end

return M
