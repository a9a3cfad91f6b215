//! The binary as a user runs it: configuration errors, `migrate`, `user add`, `serve` answering
//! and draining on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidsieve"));
    // The test's own environment must not leak configuration into the child.
    for (key, _) in std::env::vars() {
        if key.starts_with("BIDSIEVE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bidsieve-cli-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A bare HTTP/1.1 GET; returns the status code.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

fn wait_for_status(port: u16, path: &str, want: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("bidsieve exited early: {status}");
        }
        if get_status(port, path) == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{path} never answered {want}");
}

#[test]
fn a_bad_configuration_value_stops_the_start_with_one_line_naming_the_key() {
    let dir = scratch("badcfg");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[proxy]\nmax_body = \"lots\"\n").unwrap();
    let out = bin()
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("`proxy.max_body`"), "{err}");

    let out = bin()
        .args(["migrate"])
        .env("BIDSIEVE_ADMIN_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("`admin.listen`"), "{}", stderr(&out));

    let out = bin()
        .args(["migrate"])
        .env("BIDSIEVE_AUTH_JWT_SECRET", "short-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("`auth.jwt_secret`"));
    assert!(!stderr(&out).contains("short-secret-value"));
}

#[test]
fn migrate_then_user_add_on_a_new_store() {
    let dir = scratch("user");
    let url = format!("sqlite://{}/store/b.db", dir.display());
    let out = bin()
        .args(["migrate", "--store-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("store/b.db").exists());

    let add = |email: &str, password: &str| {
        let mut child = bin()
            .args([
                "user",
                "add",
                "--email",
                email,
                "--role",
                "operator",
                "--password-stdin",
            ])
            .args(["--store-url", &url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add("Ops@Example.com", "a-long-password");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("a-long-password"));
    // Emails are unique whatever their case.
    let out = add("ops@example.com", "another-password");
    assert!(!out.status.success());
    // A customer user needs a customer.
    let out = bin()
        .args([
            "user",
            "add",
            "--email",
            "c@example.com",
            "--role",
            "customer",
            "--password-stdin",
        ])
        .args(["--store-url", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_answers_then_drains_and_exits_zero_on_sigterm() {
    let dir = scratch("serve");
    let (proxy, admin, metrics) = (free_port(), free_port(), free_port());
    let mut child = bin()
        .arg("serve")
        .args(["--store-url", &format!("sqlite://{}/b.db", dir.display())])
        .args(["--proxy-listen", &format!("127.0.0.1:{proxy}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_status(proxy, "/readyz", 200, &mut child);
    assert_eq!(get_status(proxy, "/healthz"), Some(200));
    assert_eq!(get_status(proxy, "/nowhere"), Some(404));
    assert_eq!(get_status(proxy, "/0123/bids"), Some(405));
    assert_eq!(get_status(metrics, "/metrics"), Some(200));

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(err.contains("proxy drained"), "{err}");
    assert!(!err.contains("ERROR"), "{err}");
}
