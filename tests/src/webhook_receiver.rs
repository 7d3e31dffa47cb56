//! A webhook endpoint for e2e tests: a small HTTP/1.1 server on 127.0.0.1 that records every
//! request, answers 200 (or 500 to the next N when told), and checks each signature the way
//! an integrator would, with its own HMAC-SHA256 code rather than `core::webhook::verify`, so
//! a mistake shared by the relay's signer and core's verifier cannot make a test pass.
//!
//! Plain threads and blocking sockets: it runs beside any tokio runtime (or none) a test
//! uses, and each connection serves one request (`connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The receiver's replay window, as the PROTOCOL.md recipe suggests.
pub const TOLERANCE_S: i64 = 300;
/// Header bytes and body bytes a request may have.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: serde_json::Value,
    /// `x-edgedesk-event-id` (empty if missing).
    pub event_id: String,
    /// `x-edgedesk-event` (empty if missing).
    pub event_type: String,
    /// The signature header is well formed, its timestamp within [`TOLERANCE_S`] of this
    /// machine's clock, and its `v1` the HMAC of `"<t>.<body>"` with the receiver's secret.
    pub signature_ok: bool,
    pub arrived: Instant,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    secret: Vec<u8>,
    received: Mutex<Vec<Received>>,
    fail_next: Mutex<usize>,
    hold_next: Mutex<usize>,
    stop: AtomicBool,
}

pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl WebhookReceiver {
    /// Listens on a random loopback port, checking signatures with `secret`.
    pub fn start(secret: &str) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let shared = Arc::new(Shared {
            secret: secret.as_bytes().to_vec(),
            received: Mutex::new(Vec::new()),
            fail_next: Mutex::new(0),
            hold_next: Mutex::new(0),
            stop: AtomicBool::new(false),
        });
        let server = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if server.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&server);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        WebhookReceiver { addr, shared, accept: Some(accept) }
    }

    /// The endpoint URL to configure (`http://127.0.0.1:<port>/hook`).
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers 500 to the next `n` requests (they are recorded all the same).
    pub fn fail_next(&self, n: usize) {
        *lock(&self.shared.fail_next) = n;
    }

    /// Never answers the next `n` requests (recorded with status 0): the sender waits until
    /// its own timeout, or until it dies (how a test catches the relay mid-delivery).
    pub fn hold_next(&self, n: usize) {
        *lock(&self.shared.hold_next) = n;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// [`Self::wait_for`] `n` requests, then waits `settle` longer and returns everything that
    /// arrived: a duplicate (a retried delivery, a timer firing twice) shows as more than `n`.
    pub async fn wait_for_then_settle(
        &self,
        n: usize,
        timeout: Duration,
        settle: Duration,
    ) -> Vec<Received> {
        self.wait_for(n, timeout).await;
        tokio::time::sleep(settle).await;
        self.received()
    }

    /// Waits until at least `n` requests have arrived and returns all of them; panics after
    /// `timeout` saying what did arrive.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if Instant::now() > deadline {
                let seen: Vec<(&str, &str, u16)> = got
                    .iter()
                    .map(|r| (r.event_type.as_str(), r.event_id.as_str(), r.status))
                    .collect();
                panic!("webhook receiver: {} of {n} requests in {timeout:?}: {seen:?}", got.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve(stream: TcpStream, shared: &Shared) {
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut write) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let Some(mut request) = read_request(&mut reader) else {
        let _ = write.write_all(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        return;
    };
    let hold = {
        let mut hold = lock(&shared.hold_next);
        let held = *hold > 0;
        *hold = hold.saturating_sub(1);
        held
    };
    let status = {
        let mut fail = lock(&shared.fail_next);
        if *fail > 0 {
            *fail -= 1;
            500
        } else {
            200
        }
    };
    request.status = status;
    request.signature_ok = request
        .header("x-edgedesk-signature")
        .is_some_and(|h| signature_valid(&shared.secret, h, &request.body, crate::now_s()));
    if hold {
        request.status = 0;
        lock(&shared.received).push(request);
        // Keep the connection open, unanswered, until the receiver stops.
        while !shared.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    // Recorded before answering, so a sender that saw the answer finds it recorded.
    lock(&shared.received).push(request);
    let reason = if status == 200 { "OK" } else { "Internal Server Error" };
    let answer =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = write.write_all(answer.as_bytes());
}

/// Reads one request: request line, headers, and a `content-length` or chunked body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let arrived = Instant::now();
    let mut head_bytes = 0;
    let mut line = String::new();
    let mut next_line = |reader: &mut BufReader<TcpStream>| -> Option<String> {
        line.clear();
        head_bytes += reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
        (head_bytes <= MAX_HEAD_BYTES).then(|| line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let request_line = next_line(reader)?;
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let l = next_line(reader)?;
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let len: usize = header("content-length").map_or(Some(0), |v| v.parse().ok())?;
        if len > MAX_BODY_BYTES {
            return None;
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Received {
        method,
        path,
        json: serde_json::from_slice(&body).unwrap_or_default(),
        event_id: header("x-edgedesk-event-id").unwrap_or_default(),
        event_type: header("x-edgedesk-event").unwrap_or_default(),
        headers,
        body,
        signature_ok: false,
        arrived,
        status: 0,
    })
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size_hex = size_line.trim().split(';').next()?;
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        if body.len() + size > MAX_BODY_BYTES {
            return None;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            // Trailers are not used by anything that posts here.
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// The integrator's check: `t=<unix s>,v1=<hex>[,v1=…]`, `|now - t| <= TOLERANCE_S`, and
/// some `v1` equal to hex(HMAC-SHA256(secret, "<t>.<body>")).
fn signature_valid(secret: &[u8], header: &str, body: &[u8], now_s: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now_s - t).abs() > TOLERANCE_S {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    v1.contains(&expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgedesk_core::webhook;

    const SECRET: &str = "receiver-test-secret";

    /// Posts `body` with the given headers; the receiver's answer status.
    fn post(url: &str, headers: &[(&str, &str)], body: &str) -> u16 {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = agent.post(url).header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send(body).expect("post to receiver").status().as_u16()
    }

    fn signed(secret: &str, body: &str) -> String {
        webhook::sign(secret.as_bytes(), crate::now_s(), body.as_bytes())
    }

    #[tokio::test]
    async fn a_post_signed_by_core_is_recorded_and_its_signature_checks() {
        let receiver = WebhookReceiver::start(SECRET);
        let body = r#"{"id":"evt-1","type":"sla.breached","data":{"text":"退款"}}"#;
        let signature = signed(SECRET, body);
        let status = post(
            &receiver.url(),
            &[
                ("x-edgedesk-event-id", "evt-1"),
                ("x-edgedesk-event", "sla.breached"),
                ("x-edgedesk-signature", &signature),
            ],
            body,
        );
        assert_eq!(status, 200);
        let got = receiver.wait_for(1, Duration::from_secs(5)).await;
        let r = &got[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
        assert_eq!((r.event_id.as_str(), r.event_type.as_str()), ("evt-1", "sla.breached"));
        assert_eq!(r.json["data"]["text"], "退款");
        assert_eq!(r.header("x-edgedesk-signature"), Some(signature.as_str()));
        assert!(r.signature_ok);
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn an_altered_body_a_wrong_secret_or_no_signature_fails_the_check() {
        let receiver = WebhookReceiver::start(SECRET);
        let body = r#"{"id":"evt-2"}"#;
        post(
            &receiver.url(),
            &[("x-edgedesk-signature", &signed(SECRET, body))],
            r#"{"id":"evt-3"}"#,
        );
        post(&receiver.url(), &[("x-edgedesk-signature", &signed("another-secret", body))], body);
        post(&receiver.url(), &[], body);
        // Control: the same body, properly signed, passes.
        post(&receiver.url(), &[("x-edgedesk-signature", &signed(SECRET, body))], body);
        let got = receiver.wait_for(4, Duration::from_secs(5)).await;
        let ok: Vec<bool> = got.iter().map(|r| r.signature_ok).collect();
        assert_eq!(ok, vec![false, false, false, true]);
    }

    #[test]
    fn the_check_accepts_an_openssl_computed_vector_and_refuses_it_when_stale() {
        // `printf '%s' '1700000000.{"id":"evt_1","type":"message.created"}' |
        //  openssl dgst -sha256 -hmac 'whsec_test_0123456789'`
        let header =
            "t=1700000000,v1=959a4bc5edbff73e975ef678d014a04e5091bf7fdcb8c7e6d5f7cefbb77a0fb2";
        let body = br#"{"id":"evt_1","type":"message.created"}"#;
        let secret = b"whsec_test_0123456789";
        assert!(signature_valid(secret, header, body, 1_700_000_000));
        assert!(signature_valid(secret, header, body, 1_700_000_000 + TOLERANCE_S));
        assert!(!signature_valid(secret, header, body, 1_700_000_000 + TOLERANCE_S + 1));
        assert!(!signature_valid(b"whsec_test_012345678", header, body, 1_700_000_000));
    }

    #[tokio::test]
    async fn fail_next_answers_500_that_many_times_then_200() {
        let receiver = WebhookReceiver::start(SECRET);
        receiver.fail_next(2);
        let statuses: Vec<u16> = (0..3).map(|_| post(&receiver.url(), &[], "{}")).collect();
        assert_eq!(statuses, vec![500, 500, 200]);
        let recorded: Vec<u16> =
            receiver.wait_for(3, Duration::from_secs(5)).await.iter().map(|r| r.status).collect();
        assert_eq!(recorded, statuses);
    }

    #[tokio::test]
    async fn a_chunked_body_is_read_whole() {
        let receiver = WebhookReceiver::start(SECRET);
        let body = r#"{"id":"evt-4"}"#;
        let signature = signed(SECRET, body);
        let (a, b) = body.split_at(5);
        let mut stream = TcpStream::connect(receiver.addr).unwrap();
        let request = format!(
            "POST /hook HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nx-edgedesk-signature: {signature}\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let got = receiver.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(got[0].body, body.as_bytes());
        assert!(got[0].signature_ok);
    }
}
