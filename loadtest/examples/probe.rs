//! A load generator that times every request, for what wrk cannot show: latency over time
//! (the list-swap scenario's before / during / after) and latency at a fixed offered rate.
//!
//! ```text
//! probe --target 127.0.0.1:18080 --path /CLIENT_ID/bids --corpus CORPUS.bin \
//!       --connections 64 --duration 30 --out SAMPLES.bin [--rate REQ_PER_S]
//! ```
//! Each connection sends the corpus's requests in turn (each connection starts at a different
//! record) and waits for the answer before the next. Without `--rate` it sends the next at
//! once (closed loop); with `--rate` each connection sends on a fixed schedule of
//! `rate / connections` per second, and a request's latency counts from the moment the
//! schedule said to send it, so a stall is not hidden by the requests it delayed
//! (no coordinated omission). SAMPLES.bin holds one 12-byte record per
//! request, little-endian: `u32` start in µs since the probe started, `u32` latency in µs,
//! `u16` status (0: connection error), `u16` how late the probe's own timer woke it to send
//! the request, in 10 µs units (0 when the request was already due when its turn came: then
//! the wait was for the answer before it). The last line of standard output is a JSON
//! summary with the start time (Unix seconds) the offsets count from.
#![allow(clippy::print_stdout)] // a command-line tool

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bidsieve_loadtest::{CorpusRecord, read_corpus};
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

struct Sample {
    start_us: u32,
    latency_us: u32,
    status: u16,
    /// How late the schedule's timer fired, in 10 µs units.
    wake_late: u16,
}

async fn connection(
    target: std::net::SocketAddr,
    path: Arc<str>,
    corpus: Arc<Vec<CorpusRecord>>,
    first: usize,
    t0: Instant,
    until: Instant,
    interval: Option<Duration>,
) -> Vec<Sample> {
    let mut samples = Vec::with_capacity(1 << 16);
    let mut next = first;
    // Stagger the connections' schedules over one interval.
    let mut due = t0
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(first as f64 / corpus.len().max(1) as f64)
        });
    'reconnect: while Instant::now() < until {
        let Ok(stream) = tokio::net::TcpStream::connect(target).await else {
            samples.push(sample(t0, Instant::now(), 0, Duration::ZERO));
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            continue;
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        while Instant::now() < until {
            let record = &corpus[next % corpus.len()];
            next += 1;
            let mut req = Request::post(&*path)
                .header(header::HOST, "127.0.0.1")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-openrtb-version", "2.5");
            if record.gzip {
                req = req.header(header::CONTENT_ENCODING, "gzip");
            }
            let Ok(req) = req.body(Full::new(record.body.clone())) else {
                continue;
            };
            let mut wake_late = Duration::ZERO;
            let started = match interval {
                Some(interval) => {
                    if Instant::now() < due {
                        tokio::time::sleep_until(due.into()).await;
                        wake_late = due.elapsed();
                    }
                    let scheduled = due;
                    due += interval;
                    scheduled
                }
                None => Instant::now(),
            };
            let status = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if resp.into_body().collect().await.is_err() {
                        0
                    } else {
                        status
                    }
                }
                Err(_) => 0,
            };
            samples.push(sample(t0, started, status, wake_late));
            if status == 0 {
                continue 'reconnect;
            }
        }
    }
    samples
}

fn sample(t0: Instant, started: Instant, status: u16, wake_late: Duration) -> Sample {
    let clamp = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
    Sample {
        start_us: clamp(started.saturating_duration_since(t0)),
        latency_us: clamp(started.elapsed()),
        status,
        wake_late: u16::try_from(wake_late.as_micros() / 10).unwrap_or(u16::MAX),
    }
}

fn main() -> anyhow::Result<()> {
    let mut target = None;
    let mut path = None;
    let mut corpus = None;
    let mut connections: usize = 64;
    let mut duration: f64 = 10.0;
    let mut out = None;
    let mut rate: Option<f64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--target" => target = Some(value()?),
            "--path" => path = Some(value()?),
            "--corpus" => corpus = Some(value()?),
            "--connections" => connections = value()?.parse()?,
            "--duration" => duration = value()?.parse()?,
            "--out" => out = Some(value()?),
            "--rate" => rate = Some(value()?.parse()?),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let target = bidsieve_loadtest::loopback_addr(&target.context("--target is required")?)?;
    let path: Arc<str> = path.context("--path is required")?.into();
    let corpus = Arc::new(read_corpus(&corpus.context("--corpus is required")?)?);
    let out = out.context("--out is required")?;
    anyhow::ensure!(
        duration > 0.0 && duration < 3600.0,
        "--duration out of range"
    );
    anyhow::ensure!(connections > 0, "--connections must be positive");
    let interval = match rate {
        Some(r) if r > 0.0 && r.is_finite() => {
            Some(Duration::from_secs_f64(connections as f64 / r))
        }
        Some(_) => bail!("--rate must be a positive number"),
        None => None,
    };

    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let samples = bidsieve_loadtest::current_thread_runtime()?.block_on(async {
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs_f64(duration);
        let mut tasks = Vec::with_capacity(connections);
        for c in 0..connections {
            let first = c * corpus.len() / connections.max(1);
            tasks.push(tokio::spawn(connection(
                target,
                path.clone(),
                corpus.clone(),
                first,
                t0,
                until,
                interval,
            )));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap_or_default());
        }
        all
    });
    let file = std::fs::File::create(&out).with_context(|| format!("cannot create {out}"))?;
    let mut w = std::io::BufWriter::new(file);
    let mut errors = 0u64;
    for s in &samples {
        if s.status == 0 {
            errors += 1;
        }
        w.write_all(&s.start_us.to_le_bytes())?;
        w.write_all(&s.latency_us.to_le_bytes())?;
        w.write_all(&s.status.to_le_bytes())?;
        w.write_all(&s.wake_late.to_le_bytes())?;
    }
    w.flush()?;
    println!(
        "{}",
        serde_json::json!({"started_unix": started_unix, "requests": samples.len(),
            "connection_errors": errors, "samples": out, "rate": rate})
    );
    Ok(())
}
