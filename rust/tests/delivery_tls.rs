//! HTTPS with a test CA given in the settings, and an HTTP proxy given in the settings, both
//! served on loopback by the test.

mod delivery_support;

use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use delivery_support::{
    config, raw_body, read_request, stage_event, temp_dir, wait_until, Mode, Receiver, Recorded,
};
use herald::delivery::Engine;
use herald::event::StageState;

const LIMIT: Duration = Duration::from_secs(20);

/// A test CA and an HTTPS receiver whose certificate it signed, valid for 127.0.0.1.
struct TlsReceiver {
    addr: SocketAddr,
    ca_pem: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TlsReceiver {
    fn start() -> TlsReceiver {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Herald test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server_params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)
            .unwrap();
        let server_config = Arc::new(server_config);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let connection = rustls::ServerConnection::new(Arc::clone(&server_config)).unwrap();
                let recorded = Arc::clone(&recorded);
                thread::spawn(move || {
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    let Some(request) = read_request(&mut BufReader::new(&mut tls)) else {
                        return;
                    };
                    recorded.lock().unwrap().push(request);
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });

        TlsReceiver {
            addr,
            ca_pem: ca_cert.pem(),
            requests,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/secure-hook", self.addr)
    }
}

#[test]
fn https_with_ca_from_settings() {
    let receiver = TlsReceiver::start();
    let dir = temp_dir("tls-ca");
    let destinations = format!("secure webhook {}", receiver.url());
    let settings = [
        ("delivery_destinations", destinations.as_str()),
        ("delivery_rules", "-> secure"),
        ("delivery_ca_bundle", receiver.ca_pem.as_str()),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 3, "build", 1, StageState::Passed);
    engine.accept(&event, &raw_body(&event)).unwrap();

    wait_until(LIMIT, "the HTTPS delivery", || {
        !receiver.requests.lock().unwrap().is_empty()
    });
    wait_until(LIMIT, "an empty queue", || engine.waiting()["secure"] == 0);
    engine.stop(Duration::from_secs(2));

    let requests = receiver.requests.lock().unwrap();
    assert_eq!(requests[0].path, "/secure-hook");
    assert_eq!(requests[0].json()["event_id"], "deploy/3/build/1/Passed");
    assert!(engine.status().is_empty());
}

#[test]
fn https_unknown_ca_is_rejected() {
    let receiver = TlsReceiver::start();
    let dir = temp_dir("tls-unknown");
    let destinations = format!("secure webhook {}", receiver.url());
    let settings = [
        ("delivery_destinations", destinations.as_str()),
        ("delivery_rules", "-> secure"),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 3, "build", 1, StageState::Passed);
    engine.accept(&event, &raw_body(&event)).unwrap();

    wait_until(LIMIT, "a failing status", || !engine.status().is_empty());
    engine.stop(Duration::from_secs(2));

    let status = engine.status();
    assert!(
        status[0].starts_with("Destination secure is failing: 1 event waiting"),
        "{status:?}"
    );
    assert!(
        status[0].to_lowercase().contains("certificate"),
        "{status:?}"
    );
    assert!(
        receiver.requests.lock().unwrap().is_empty(),
        "request sent over an untrusted connection"
    );
}

/// Starts a CONNECT proxy on loopback that records the requested targets.
fn start_connect_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&targets);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let recorded = Arc::clone(&recorded);
            thread::spawn(move || tunnel(client, recorded));
        }
    });
    (addr, targets)
}

fn tunnel(mut client: TcpStream, targets: Arc<Mutex<Vec<String>>>) {
    // Reads the CONNECT head byte by byte, so no byte of the tunnelled stream is consumed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    if words.next() != Some("CONNECT") {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let target = words.next().unwrap_or("").to_string();
    targets.lock().unwrap().push(target.clone());

    // Only loopback targets are tunnelled.
    let Ok(target_addr) = target.parse::<SocketAddr>() else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if !target_addr.ip().is_loopback() {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let Ok(server) = TcpStream::connect(target_addr) else {
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();

    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = std::io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

#[test]
fn proxy_from_settings_is_used() {
    let receiver = Receiver::start(Mode::Ok);
    let (proxy_addr, targets) = start_connect_proxy();
    let dir = temp_dir("proxy");
    let destinations = format!("audit webhook {}", receiver.url("/via-proxy"));
    let proxy_url = format!("http://{proxy_addr}");
    let settings = [
        ("delivery_destinations", destinations.as_str()),
        ("delivery_rules", "-> audit"),
        ("delivery_proxy_url", proxy_url.as_str()),
    ];
    let engine = Engine::open(config(&dir, &settings)).unwrap();
    engine.start().unwrap();

    let event = stage_event("deploy", 9, "build", 1, StageState::Failed);
    engine.accept(&event, &raw_body(&event)).unwrap();

    receiver.wait_for(LIMIT, "the delivery through the proxy", |r| !r.is_empty());
    engine.stop(Duration::from_secs(2));

    assert_eq!(*targets.lock().unwrap(), vec![receiver.addr.to_string()]);
    assert_eq!(receiver.requests()[0].path, "/via-proxy");
}
