//! redis: a server under the allocator, loaded by redis-benchmark (on glibc: it is the load),
//! its own keys written and read back, BGSAVE (a forked child writes the RDB on the inherited
//! allocator), a restart from the RDB, the keys read back again.

use super::process::{mib, spawn, tail_file, Exit, Measured, Running};
use super::resp::{Reply, Resp};
use super::{base_cmd, Ctx, Outcome};
use anyhow::{anyhow, bail, Context, Result};
use hakmem_bench::contestants::Contestant;
use hakmem_bench::probe::Status;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The value of key `i`: mixed sizes (mostly small, some KB, a few 64-200 KB), content from i.
fn redis_value(i: usize) -> Vec<u8> {
    let mut x = (i as u32).wrapping_mul(2654435761).wrapping_add(12345) | 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    let len = match x % 100 {
        0 => 65536 + (x as usize >> 8) % 131072,
        1..=14 => 1024 + (x as usize >> 8) % 8192,
        _ => 1 + (x as usize >> 8) % 200,
    };
    let seed = format!("v{i}:");
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(seed.as_bytes());
        v.push(b'a' + (v.len() % 26) as u8);
    }
    v.truncate(len);
    v
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn start_redis(col: &Contestant, dir: &Path, port: u16, log: &str, timeout: Duration) -> Result<(Running, Resp)> {
    let mut c = base_cmd("redis-server", col);
    c.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--protected-mode", "no", "--dbfilename", "dump.rdb", "--logfile", ""])
        .arg("--dir")
        .arg(dir)
        .current_dir(dir)
        .stdout(fs::File::create(dir.join(format!("{log}.stdout.txt")))?)
        .stderr(fs::File::create(dir.join(format!("{log}.stderr.txt")))?);
    let run = spawn(c, timeout)?;
    let t0 = Instant::now();
    loop {
        if let Ok(mut r) = Resp::connect(port) {
            match r.cmd(&["PING"]) {
                Ok(Reply::Simple(s)) if s == "PONG" => return Ok((run, r)),
                _ => {}
            }
        }
        // SAFETY: probing whether our child is still alive.
        if unsafe { libc::kill(run.pid, 0) } != 0 || t0.elapsed() > Duration::from_secs(20) {
            let m = run.wait();
            bail!("redis-server did not answer on port {port} ({}); see {log}.stdout.txt", m.exit);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_redis(run: Running, mut r: Resp) -> Measured {
    // SHUTDOWN closes the connection without a reply.
    let _ = r.cmd(&["SHUTDOWN", "NOSAVE"]);
    run.wait()
}

fn info_field(info: &str, key: &str) -> String {
    info.lines().find_map(|l| l.strip_prefix(&format!("{key}:"))).unwrap_or("?").trim().to_string()
}

/// Value sizes (-d) of the redis-benchmark runs.
pub const REDIS_BENCH_SIZES: [usize; 3] = [16, 256, 2048];
pub const NLISTS: usize = 200;
pub const NHASHES: usize = 200;
const NITEMS: usize = 50;

/// Write the known keys: strings, lists and hashes.
fn redis_write(r: &mut Resp, nkeys: usize) -> Result<()> {
    for chunk in (0..nkeys).collect::<Vec<_>>().chunks(500) {
        let cmds: Vec<Vec<Vec<u8>>> =
            chunk.iter().map(|&i| vec![b"SET".to_vec(), format!("ck:{i}").into_bytes(), redis_value(i)]).collect();
        for rep in r.pipeline(&cmds)? {
            if rep != Reply::Simple("OK".into()) {
                bail!("SET replied {rep:?}");
            }
        }
    }
    let mut cmds = Vec::new();
    for j in 0..NLISTS {
        for k in 0..NITEMS {
            cmds.push(vec![b"LPUSH".to_vec(), format!("cl:{j}").into_bytes(), redis_value(j * NITEMS + k)]);
        }
    }
    for j in 0..NHASHES {
        for k in 0..NITEMS {
            cmds.push(vec![
                b"HSET".to_vec(),
                format!("ch:{j}").into_bytes(),
                format!("f{k}").into_bytes(),
                redis_value(j * 7 + k),
            ]);
        }
    }
    // churn: overwrite every 3rd key with a different size, delete every 11th, append to every 5th
    for i in (0..nkeys).step_by(3) {
        cmds.push(vec![b"SET".to_vec(), format!("ck:{i}").into_bytes(), redis_value(i + 1_000_000)]);
    }
    for i in (0..nkeys).step_by(11) {
        cmds.push(vec![b"DEL".to_vec(), format!("ck:{i}").into_bytes()]);
    }
    for i in (0..nkeys).step_by(5) {
        cmds.push(vec![b"APPEND".to_vec(), format!("ck:{i}").into_bytes(), b"+tail".to_vec()]);
    }
    for chunk in cmds.chunks(500) {
        for rep in r.pipeline(chunk)? {
            if let Reply::Error(e) = rep {
                bail!("write replied error {e}");
            }
        }
    }
    Ok(())
}

/// What key `ck:i` must hold after redis_write, or None if deleted.
#[allow(clippy::manual_is_multiple_of)] // `%` keeps the workspace's rust-version (1.80)
fn redis_expected(i: usize) -> Option<Vec<u8>> {
    let mut v = if i % 3 == 0 { redis_value(i + 1_000_000) } else { redis_value(i) };
    if i % 11 == 0 {
        // deleted; an APPEND after the DEL recreates it with just the tail
        return if i % 5 == 0 { Some(b"+tail".to_vec()) } else { None };
    }
    if i % 5 == 0 {
        v.extend_from_slice(b"+tail");
    }
    Some(v)
}

/// Read every known key back; return (keys checked, mismatches, first mismatch).
fn redis_verify(r: &mut Resp, nkeys: usize) -> Result<(usize, usize, String)> {
    let mut checked = 0;
    let mut bad = 0;
    let mut first = String::new();
    let mut note = |what: String, bad: &mut usize| {
        *bad += 1;
        if first.is_empty() {
            first = what;
        }
    };
    for chunk in (0..nkeys).collect::<Vec<_>>().chunks(500) {
        let cmds: Vec<Vec<Vec<u8>>> =
            chunk.iter().map(|&i| vec![b"GET".to_vec(), format!("ck:{i}").into_bytes()]).collect();
        for (&i, rep) in chunk.iter().zip(r.pipeline(&cmds)?) {
            checked += 1;
            let want = redis_expected(i);
            if rep != Reply::Bulk(want) {
                note(format!("GET ck:{i} wrong"), &mut bad);
            }
        }
    }
    let cmds: Vec<Vec<Vec<u8>>> = (0..NLISTS)
        .map(|j| vec![b"LRANGE".to_vec(), format!("cl:{j}").into_bytes(), b"0".to_vec(), b"-1".to_vec()])
        .collect();
    for (j, rep) in r.pipeline(&cmds)?.into_iter().enumerate() {
        checked += 1;
        let want: Vec<Reply> = (0..NITEMS).rev().map(|k| Reply::Bulk(Some(redis_value(j * NITEMS + k)))).collect();
        if rep != Reply::Array(Some(want)) {
            note(format!("LRANGE cl:{j} wrong"), &mut bad);
        }
    }
    let cmds: Vec<Vec<Vec<u8>>> =
        (0..NHASHES).map(|j| vec![b"HGETALL".to_vec(), format!("ch:{j}").into_bytes()]).collect();
    for (j, rep) in r.pipeline(&cmds)?.into_iter().enumerate() {
        checked += 1;
        let mut got = BTreeMap::new();
        if let Reply::Array(Some(items)) = rep {
            for pair in items.chunks(2) {
                if let [Reply::Bulk(Some(k)), Reply::Bulk(Some(v))] = pair {
                    got.insert(k.clone(), v.clone());
                }
            }
        }
        let want: BTreeMap<Vec<u8>, Vec<u8>> =
            (0..NITEMS).map(|k| (format!("f{k}").into_bytes(), redis_value(j * 7 + k))).collect();
        if got != want {
            note(format!("HGETALL ch:{j} wrong"), &mut bad);
        }
    }
    Ok((checked, bad, first))
}

/// redis-benchmark (not under the allocator: it is the load, the server is measured).
/// Returns requests/s per test name, summed over the value sizes as total requests / total time.
fn redis_bench(r: &mut Resp, port: u16, n: usize, dir: &Path) -> Result<BTreeMap<String, f64>> {
    let mut reqs: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut log = String::new();
    for size in REDIS_BENCH_SIZES {
        // LPUSH grows one list ("mylist") by n values per run: start each size afresh
        r.cmd(&["DEL", "mylist"])?;
        let out = Command::new("redis-benchmark")
            .env_remove("LD_PRELOAD")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "-c", "16", "-P", "8", "-r", "10000"])
            .args(["-n", &n.to_string(), "-d", &size.to_string(), "-t", "set,get,lpush,hset"])
            .stdin(Stdio::null())
            .output()
            .context("redis-benchmark")?;
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
        let _ = writeln!(log, "-- size {size}\n{text}{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("redis-benchmark -d {size} failed: {}", out.status);
        }
        for l in text.lines() {
            // "SET: 123456.79 requests per second, p50=0.135 msec"
            let Some((name, rest)) = l.split_once(": ") else {
                continue;
            };
            let Some(rps) = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            if !rest.contains("requests per second") || rps <= 0.0 {
                continue;
            }
            let e = reqs.entry(name.trim().to_string()).or_default();
            e.0 += n as f64;
            e.1 += n as f64 / rps;
        }
    }
    fs::write(dir.join("redis-benchmark.txt"), log)?;
    Ok(reqs.into_iter().map(|(k, (r, t))| (k, r / t)).collect())
}

pub fn run_redis(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let nkeys = redis_keys(ctx.full);
    let port = free_port()?;
    let t0 = Instant::now();
    let (run, mut r) = start_redis(col, dir, port, "server1", ctx.timeout)?;
    let pid = run.pid;
    let phase1 = (|| -> Result<_> {
        redis_write(&mut r, nkeys)?;
        let rps = redis_bench(&mut r, port, redis_bench_n(ctx.full), dir)?;
        let v1 = redis_verify(&mut r, nkeys)?;
        let dbsize = match r.cmd(&["DBSIZE"])? {
            Reply::Int(n) => n,
            other => bail!("DBSIZE: {other:?}"),
        };
        let mem = r.text(&["INFO", "memory"])?;
        let rss_kb = Status::open(pid).ok().and_then(|s| s.read()).map_or(0, |m| m.rss_kb);
        // BGSAVE forks: the child writes the RDB on the allocator inherited across fork.
        r.text(&["BGSAVE"])?;
        let t = Instant::now();
        let persist = loop {
            let p = r.text(&["INFO", "persistence"])?;
            if info_field(&p, "rdb_bgsave_in_progress") == "0" && info_field(&p, "rdb_changes_since_last_save") == "0" {
                break p;
            }
            if t.elapsed() > Duration::from_secs(120) {
                bail!("BGSAVE did not finish in 120 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok((rps, v1, dbsize, mem, rss_kb, info_field(&persist, "rdb_last_bgsave_status")))
    })();
    let m1 = stop_redis(run, r);
    let (rps, v1, dbsize, mem, rss_kb, bgsave) = match phase1 {
        Ok(x) => x,
        Err(e) => {
            let mut o = Outcome::error(e.context(format!("redis-server ({})", m1.exit)));
            o.result = format!("server {}; {}", m1.exit, o.result);
            o.detail = format!("{}; server log: {}", o.detail, tail_file(&dir.join("server1.stdout.txt")));
            o.wall = t0.elapsed().as_secs_f64();
            o.cpu = m1.cpu;
            o.maxrss_kb = m1.maxrss_kb;
            return Ok(o);
        }
    };
    // Restart from the RDB the forked child wrote, read everything again.
    let (v2, m2) = if bgsave == "ok" {
        let port2 = free_port()?;
        let (run2, mut r2) = start_redis(col, dir, port2, "server2", ctx.timeout)?;
        let v2 = redis_verify(&mut r2, nkeys);
        (v2, Some(stop_redis(run2, r2)))
    } else {
        (Err(anyhow!("BGSAVE status {bgsave}")), None)
    };
    let wall = t0.elapsed().as_secs_f64();
    let (v2c, v2bad, v2first) = match &v2 {
        Ok((c, b, f)) => (*c, *b, f.clone()),
        Err(e) => (0, 1, format!("{e:#}")),
    };
    let exit2 = m2.as_ref().map(|m| m.exit.to_string()).unwrap_or_else(|| "not run".into());
    let ok = m1.exit == Exit::Code(0)
        && v1.1 == 0
        && bgsave == "ok"
        && v2bad == 0
        && m2.as_ref().map(|m| m.exit) == Some(Exit::Code(0));
    let result = format!(
        "server {}; {} keys checked, {} wrong; bgsave {}; after reload: {} checked, {} wrong; server2 {}",
        m1.exit, v1.0, v1.1, bgsave, v2c, v2bad, exit2
    );
    let mut metrics: Vec<(String, String)> =
        rps.iter().map(|(k, v)| (format!("{k} req/s"), format!("{v:.0}"))).collect();
    metrics.push(("dbsize (with benchmark keys)".into(), dbsize.to_string()));
    metrics.push(("used_memory".into(), info_field(&mem, "used_memory_human")));
    metrics.push(("used_memory_peak".into(), info_field(&mem, "used_memory_peak_human")));
    metrics.push(("server RSS after load".into(), mib(rss_kb)));
    metrics.push(("server peak RSS".into(), mib(m1.maxrss_kb)));
    Ok(Outcome {
        result,
        summary: if ok { format!("ok {} keys x2", v1.0) } else { format!("FAIL {} wrong", v1.1 + v2bad) },
        ok,
        wall,
        cpu: m1.cpu + m2.as_ref().map(|m| m.cpu).unwrap_or(0.0),
        maxrss_kb: m1.maxrss_kb.max(m2.as_ref().map(|m| m.maxrss_kb).unwrap_or(0)),
        metrics,
        detail: if ok { String::new() } else { format!("{} {}", v1.2, v2first) },
        messages: vec![],
    })
}

pub fn redis_keys(full: bool) -> usize {
    if full {
        100_000
    } else {
        20_000
    }
}
pub fn redis_bench_n(full: bool) -> usize {
    if full {
        100_000
    } else {
        20_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_values_have_mixed_sizes_and_depend_on_the_key() {
        let sizes: Vec<usize> = (0..2000).map(|i| redis_value(i).len()).collect();
        assert!(sizes.iter().any(|&s| s <= 200));
        assert!(sizes.iter().any(|&s| (1024..=9216).contains(&s)));
        assert!(sizes.iter().any(|&s| s >= 65536));
        assert_ne!(redis_value(1), redis_value(2));
        assert_eq!(redis_value(7), redis_value(7));
        // the expected state after the churn of redis_write
        assert_eq!(redis_expected(11), None); // deleted
        assert_eq!(redis_expected(55).as_deref(), Some(&b"+tail"[..])); // deleted, then appended
        let mut v = redis_value(1_000_015);
        v.extend_from_slice(b"+tail");
        assert_eq!(redis_expected(15), Some(v)); // overwritten (15 % 3 == 0), then appended
        assert_eq!(redis_expected(1), Some(redis_value(1)));
    }
}
