//! E-mail delivery: an SMTP sink started by the test receives each guardian's message in their language.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use jikimi_notify::{SmtpSettings, SmtpTls};
use jikimi_store::NotificationState;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use crate::support::*;

/// One message as the sink received it.
#[derive(Debug, Clone)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server (RFC 5321 happy path): enough for a client to hand over messages.
async fn start_sink() -> (std::net::SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let sink = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = sink.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                        "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "RCPT" => {
                            rcpt.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        }
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                                data.push('\n');
                            }
                            inbox.lock().unwrap().push(Received {
                                rcpt: std::mem::take(&mut rcpt),
                                data,
                            });
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (addr, inbox)
}

/// A header's value, unfolded, with RFC 2047 base64 encoded words decoded.
fn header(data: &str, name: &str) -> String {
    let (head, _) = data.split_once("\n\n").unwrap();
    let mut value = String::new();
    let mut inside = false;
    for line in head.lines() {
        if inside && line.starts_with([' ', '\t']) {
            value.push_str(line.trim_start());
        } else {
            inside = false;
            if let Some(rest) = line.strip_prefix(&format!("{name}: ")) {
                value = rest.to_owned();
                inside = true;
            }
        }
    }
    let mut out = Vec::new();
    let mut rest = value.as_str();
    let mut after_word = false;
    while let Some(start) = rest.find("=?utf-8?b?") {
        // Whitespace between two encoded words is folding, not text (RFC 2047 section 6.2).
        let text = &rest[..start];
        if !(after_word && text.trim().is_empty()) {
            out.extend_from_slice(text.as_bytes());
        }
        after_word = true;
        let word = &rest[start + 10..];
        let end = word.find("?=").unwrap();
        out.extend(
            base64::engine::general_purpose::STANDARD
                .decode(&word[..end])
                .unwrap(),
        );
        rest = &word[end + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8(out).unwrap()
}

fn body(data: &str) -> String {
    let (_, body) = data.split_once("\n\n").unwrap();
    let joined: String = body.lines().collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_receives_korean_and_english_messages() {
    let (addr, inbox) = start_sink().await;
    let (store, _db) = Db::fresh(Backend::Sqlite).await;
    let ring = keyring();
    let (sid, _) = register(
        store.as_ref(),
        &ring,
        "김민지",
        &[
            GuardianSpec {
                name: "어머니",
                language: "ko",
                channels: vec![
                    ("email", "mother@example.test".into()),
                    ("sms", "+821055554444".into()),
                ],
            },
            GuardianSpec {
                name: "Carer",
                language: "en",
                channels: vec![("email", "carer@example.test".into())],
            },
        ],
    )
    .await;
    let incident = raise(store.as_ref(), sid).await;

    let mut config = fast_config();
    config.smtp = Some(SmtpSettings {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: SmtpTls::None,
        from: "지킴이 <noreply@jikimi.test>".into(),
        username: None,
        password: None,
        timeout: Duration::from_secs(2),
    });
    let worker = spawn_worker(store.clone(), config);
    let settled = wait_settled(store.as_ref(), &[incident], Duration::from_secs(30)).await;
    worker.abort();
    assert!(
        settled
            .iter()
            .all(|n| n.state == NotificationState::Delivered),
        "{settled:?}"
    );
    // The mother's SMS channel (index 1) has no gateway here: not delivered, not a failure.
    for n in &settled {
        assert_eq!(n.delivered_channels, vec![0]);
        assert_eq!(n.attempts, 1);
    }

    let messages = inbox.lock().unwrap().clone();
    assert_eq!(messages.len(), 2);
    let to = |who: &str| {
        messages
            .iter()
            .find(|m| m.rcpt.iter().any(|r| r.contains(who)))
            .unwrap_or_else(|| panic!("no message to {who}"))
            .data
            .clone()
    };
    let ko = to("mother@example.test");
    assert_eq!(header(&ko, "Subject"), "[지킴이] 김민지님의 긴급 신고");
    assert_eq!(header(&ko, "Content-Language"), "ko");
    let text = body(&ko);
    assert!(text.starts_with("김민지님이 "), "{text}");
    assert!(text.contains("긴급(SOS) 신고를 했습니다"));
    assert!(text.contains("112"));

    let en = to("carer@example.test");
    assert_eq!(header(&en, "Subject"), "jikimi: SOS alert from 김민지");
    assert_eq!(header(&en, "Content-Language"), "en");
    assert!(body(&en).contains("raised an SOS alert at "));

    // The Message-ID is the notification id: the same on any retry.
    let ids: Vec<String> = settled
        .iter()
        .map(|n| format!("<{}@jikimi.notify>", n.id))
        .collect();
    assert!(ids.contains(&header(&ko, "Message-ID")));
    assert!(ids.contains(&header(&en, "Message-ID")));
}
