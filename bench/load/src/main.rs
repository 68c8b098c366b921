//! `wristband-bench-load`: sends requests at a fixed rate over keep-alive
//! HTTP/1.1 connections and reports the latency percentiles as one JSON line.
//!
//! Open loop: request `i` is due at `start + i / rate`, spread round-robin
//! over the connections, and its latency is counted from when it was *due*,
//! not from when it was sent. A server that falls behind therefore shows the
//! queueing it causes (no coordinated omission, as with wrk2). Each
//! connection is a thread with blocking I/O and `nanosleep`, whose wake-up
//! error (tens of microseconds) is small next to what is measured.
//!
//! ```text
//! wristband-bench-load --url http://127.0.0.1:8080/auth/introspect --rate 10000 \
//!     --duration 10 --connections 16 --method POST \
//!     --header 'Authorization: Bearer S' --header 'Content-Type: application/x-www-form-urlencoded' \
//!     --body 'token=T'
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Args {
    host: String,
    path: String,
    rate: f64,
    duration: Duration,
    connections: usize,
    method: String,
    headers: Vec<String>,
    body: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: String::new(),
        path: String::new(),
        rate: 1000.0,
        duration: Duration::from_secs(10),
        connections: 16,
        method: "GET".into(),
        headers: Vec::new(),
        body: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => {
                let url = value()?;
                let rest = url
                    .strip_prefix("http://")
                    .ok_or("only http:// URLs")?
                    .to_owned();
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                args.host = host.to_owned();
                args.path = if path.is_empty() { "/".into() } else { path.to_owned() };
            }
            "--rate" => args.rate = value()?.parse().map_err(|_| "bad --rate")?,
            "--duration" => {
                args.duration =
                    Duration::from_secs_f64(value()?.parse().map_err(|_| "bad --duration")?)
            }
            "--connections" => {
                args.connections = value()?.parse().map_err(|_| "bad --connections")?
            }
            "--method" => args.method = value()?,
            "--header" => args.headers.push(value()?),
            "--body" => args.body = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.host.is_empty() || args.rate <= 0.0 || args.connections == 0 {
        return Err("usage: --url http://HOST:PORT/PATH --rate N [--duration S] [--connections C] [--method M] [--header H]... [--body B]".into());
    }
    Ok(args)
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    non_2xx: u64,
    errors: u64,
}

fn request_bytes(args: &Args) -> Vec<u8> {
    let mut text = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        args.method,
        args.path,
        args.host,
        args.body.len()
    );
    for header in &args.headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&args.body);
    text.into_bytes()
}

/// Reads one response; returns its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(status)
}

fn connect(host: &str) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let stream = TcpStream::connect(host)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let reader = BufReader::new(stream.try_clone()?);
    Ok((stream, reader))
}

fn run_connection(args: &Args, index: usize, start: Instant, request: &[u8]) -> Tally {
    let mut tally = Tally::default();
    let interval = Duration::from_secs_f64(args.connections as f64 / args.rate);
    let offset = Duration::from_secs_f64(index as f64 / args.rate);
    let mut connection = connect(&args.host).ok();
    let mut due = start + offset;
    while due < start + args.duration {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let outcome = match connection.as_mut() {
            Some((stream, reader)) => stream
                .write_all(request)
                .and_then(|()| read_response(reader)),
            None => Err(std::io::Error::other("not connected")),
        };
        match outcome {
            Ok(status) => {
                tally
                    .latencies_us
                    .push(u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX));
                if !(200..300).contains(&status) {
                    tally.non_2xx += 1;
                }
            }
            Err(_) => {
                tally.errors += 1;
                connection = connect(&args.host).ok();
            }
        }
        due += interval;
    }
    tally
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("wristband-bench-load: {e}");
            std::process::exit(2);
        }
    };
    let request = request_bytes(&args);
    // A moment for every thread to connect before the first request is due.
    let start = Instant::now() + Duration::from_millis(200);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.connections)
            .map(|i| {
                let (args, request) = (&args, &request);
                scope.spawn(move || run_connection(args, i, start, request))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let non_2xx: u64 = tallies.iter().map(|t| t.non_2xx).sum();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    println!(
        "{{\"rate\": {}, \"connections\": {}, \"completed\": {}, \"rps\": {:.1}, \"non_2xx\": {}, \"errors\": {}, \
         \"p50\": {:.3}, \"p90\": {:.3}, \"p99\": {:.3}, \"p999\": {:.3}, \"max\": {:.3}}}",
        args.rate,
        args.connections,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        non_2xx,
        errors,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        percentile(&latencies, 100.0),
    );
}
