//! The broker's side of MQTT security (issue 16, item 8), against a private Mosquitto each test starts on a free
//! port and stops (that process only): the password file and the sample ACL of `docs/mosquitto.acl`, then TLS with
//! a throw-away CA. A machine without Mosquitto fails these tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jikimi_server::mqtt::config::{MqttCredentials, MqttTls};
use jikimi_server::mqtt::envelope::{self, TopicKind};
use jikimi_server::mqtt::{self, MqttConfig};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use serde_json::Value;
use uuid::Uuid;

use crate::support::{Harness, TestDevice, sos};

const SERVER_USER: &str = "jikimi-server";
const SERVER_PASSWORD: &str = "server-broker-pass-1";
const TERMINAL_PASSWORD: &str = "terminal-broker-pass-1";

/// A program of the Mosquitto package. Mosquitto is one of the services these tests use, so a machine without it
/// fails the test (never a silent pass); `Option` only keeps the callers' `?`.
fn program(name: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists());
    assert!(
        found.is_some(),
        "{name} is not installed: install mosquitto to run these tests"
    );
    found
}

/// A private Mosquitto; dropping it stops that process (and only it).
pub(crate) struct Broker {
    child: std::process::Child,
    port: u16,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    /// Starts Mosquitto with `settings` (lines of its configuration, after the listener) and waits until it
    /// accepts connections.
    fn start(dir: tempfile::TempDir, settings: &str) -> Option<Broker> {
        Broker::launch(dir, &format!("persistence false\n{settings}"))
    }

    /// A broker that keeps sessions and queued messages across [`Broker::restart`], as a production broker does:
    /// persistence in its own temp dir, written when it is stopped.
    pub(crate) fn start_persistent() -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let location = format!("{}/", dir.path().display());
        // Anonymous clients: this broker is only the restart under test, not its access control (see the ACL test).
        Broker::launch(
            dir,
            &format!("allow_anonymous true\npersistence true\npersistence_location {location}\n"),
        )
        .expect("mosquitto starts")
    }

    fn launch(dir: tempfile::TempDir, settings: &str) -> Option<Broker> {
        let mosquitto = program("mosquitto")?;
        // A free port: bound, read, released; Mosquitto takes it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\n\
                 # As root, stay root: the files are in a private temp dir.\nuser root\n{settings}\n"
            ),
        )
        .expect("write config");
        let child = spawn(&mosquitto, &config);
        let mut broker = Broker {
            child,
            port,
            config,
            _dir: dir,
        };
        broker.wait_listening();
        Some(broker)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Stops this broker as an operator's restart does (SIGTERM to this process only: it saves its sessions and
    /// queued messages), waits for it to exit, and starts it again on the same port with the same configuration.
    pub(crate) fn restart(&mut self) {
        let pid = self.child.id().to_string();
        let stopped = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(stopped.success(), "SIGTERM to mosquitto {pid}");
        let _ = self.child.wait();
        let mosquitto = program("mosquitto").expect("mosquitto installed");
        self.child = spawn(&mosquitto, &self.config);
        self.wait_listening();
    }

    /// Waits for the listener (or the process's exit), at most 20 s.
    fn wait_listening(&mut self) {
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mosquitto exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto never listened on {}", self.port);
    }
}

fn spawn(mosquitto: &Path, config: &Path) -> std::process::Child {
    std::process::Command::new(mosquitto)
        .arg("-c")
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start mosquitto")
}

/// The password file for the server and the given terminals (by device id), mode 0600.
fn password_file(dir: &Path, devices: &[&TestDevice]) -> Option<PathBuf> {
    let passwd = program("mosquitto_passwd")?;
    let path = dir.join("passwd");
    std::fs::write(&path, "").expect("create passwd");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let mut users = vec![(SERVER_USER.to_string(), SERVER_PASSWORD)];
    users.extend(
        devices
            .iter()
            .map(|d| (d.id.to_string(), TERMINAL_PASSWORD)),
    );
    for (user, password) in users {
        let status = std::process::Command::new(&passwd)
            .arg("-b")
            .arg(&path)
            .arg(&user)
            .arg(password)
            .status()
            .expect("run mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd {user}");
    }
    Some(path)
}

/// A client's event loop driven by hand: the next packet, or the connection error.
async fn next_packet(eventloop: &mut EventLoop) -> Result<Packet, ConnectionError> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), eventloop.poll())
            .await
            .expect("the broker answers within 20 s")?
        {
            Event::Incoming(packet) => return Ok(packet),
            Event::Outgoing(_) => {}
        }
    }
}

fn client(port: u16, login: Option<(&str, &str)>) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(
        format!("test-{}", Uuid::new_v4().simple()),
        "127.0.0.1",
        port,
    );
    options.set_keep_alive(Duration::from_secs(5));
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    AsyncClient::new(options, 100)
}

/// Connects; returns the CONNACK's refusal, if any.
async fn connect(eventloop: &mut EventLoop) -> Result<(), ConnectReturnCode> {
    match next_packet(eventloop).await {
        Ok(Packet::ConnAck(_)) => Ok(()),
        Err(ConnectionError::ConnectionRefused(code)) => Err(code),
        other => panic!("expected a CONNACK, got {other:?}"),
    }
}

/// Subscribes to `filter`; returns whether the broker granted it.
async fn subscribe(client: &AsyncClient, eventloop: &mut EventLoop, filter: &str) -> bool {
    client
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .expect("queue subscribe");
    loop {
        if let Packet::SubAck(suback) = next_packet(eventloop).await.expect("connected") {
            return matches!(suback.return_codes[..], [SubscribeReasonCode::Success(_)]);
        }
    }
}

/// The server's intake on `config`, subscribed (it only counts a SUBACK that grants every subscription).
async fn intake(h: &Harness, config: MqttConfig) -> mqtt::MqttIntake {
    let mut intake = mqtt::spawn(h.state.clone(), config);
    tokio::time::timeout(Duration::from_secs(20), intake.ready())
        .await
        .expect("the server's subscriptions are granted");
    intake
}

/// A terminal publishes a signed SOS on its own topic and waits for the server's acknowledgement.
async fn sos_is_acknowledged(
    h: &Harness,
    device: &TestDevice,
    client: AsyncClient,
    mut eventloop: EventLoop,
) {
    let prefix = envelope::DEFAULT_PREFIX;
    assert!(
        subscribe(
            &client,
            &mut eventloop,
            &envelope::ack_topic(prefix, &device.id)
        )
        .await,
        "a terminal reads its own acks"
    );
    let message = envelope::sign(
        &device.key,
        &device.id,
        TopicKind::Sos,
        h.now_s(),
        &Uuid::new_v4().simple().to_string(),
        &sos(37.5665, 126.978).to_string(),
    );
    client
        .publish(
            envelope::sos_topic(prefix, &device.id),
            QoS::AtLeastOnce,
            false,
            message,
        )
        .await
        .expect("queue publish");
    loop {
        if let Packet::Publish(publish) = next_packet(&mut eventloop).await.expect("connected") {
            let ack: Value = serde_json::from_slice(&publish.payload).expect("ack json");
            assert_eq!(ack["message_en"], "Help is on its way.", "{ack}");
            return;
        }
    }
}

type Received = tokio::sync::mpsc::UnboundedReceiver<(String, String)>;

/// Drives a connected client's event loop in a task, forwarding what it receives as (topic, payload text).
fn reader(mut eventloop: EventLoop) -> (tokio::task::JoinHandle<()>, Received) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(publish)) = event {
                let text = String::from_utf8_lossy(&publish.payload).into_owned();
                let _ = tx.send((publish.topic.clone(), text));
            }
        }
    });
    (task, rx)
}

/// The next message a reader forwarded, within 20 s.
async fn received(rx: &mut Received) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a message within 20 s")
        .expect("client connected")
}

/// With the password file and the sample ACL: anonymous clients and wrong passwords are refused; a terminal reads
/// nothing of another terminal's topics (not even through `+` or `#`: the SOS locations an open broker leaks) and
/// cannot publish in another terminal's name; the server, logged in with its credentials, receives a terminal's
/// SOS and acknowledges it, and sends it a silent question whose answer it receives.
///
/// Mosquitto 2.0 grants a forbidden subscription and filters at delivery (newer versions refuse it in the SUBACK),
/// so non-delivery is proved by order: a marker sent after the forbidden message was routed arrives first.
pub async fn broker_acl_confines_each_terminal_to_its_own_topics(h: &Harness) {
    let a = h.device().await;
    let b = h.device().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(passwd) = password_file(dir.path(), &[&a, &b]) else {
        return;
    };
    let acl = dir.path().join("acl");
    std::fs::write(&acl, include_str!("../../../../docs/mosquitto.acl")).expect("write acl");
    let settings = format!(
        "allow_anonymous false\npassword_file {}\nacl_file {}",
        passwd.display(),
        acl.display()
    );
    let Some(broker) = Broker::start(dir, &settings) else {
        return;
    };

    let (_, mut anonymous) = client(broker.port, None);
    assert_eq!(
        connect(&mut anonymous).await,
        Err(ConnectReturnCode::NotAuthorized)
    );
    let (_, mut wrong) = client(broker.port, Some((SERVER_USER, "not the password")));
    assert!(connect(&mut wrong).await.is_err(), "wrong password refused");

    let prefix = envelope::DEFAULT_PREFIX;
    let (a_user, b_user) = (a.id.to_string(), b.id.to_string());
    let (a_client, mut a_loop) = client(broker.port, Some((&a_user, TERMINAL_PASSWORD)));
    assert_eq!(connect(&mut a_loop).await, Ok(()));
    let (b_client, mut b_loop) = client(broker.port, Some((&b_user, TERMINAL_PASSWORD)));
    assert_eq!(connect(&mut b_loop).await, Ok(()));
    let (watcher, mut watcher_loop) = client(broker.port, Some((SERVER_USER, SERVER_PASSWORD)));
    assert_eq!(connect(&mut watcher_loop).await, Ok(()));
    assert!(
        subscribe(
            &watcher,
            &mut watcher_loop,
            &format!("{prefix}/devices/+/sos")
        )
        .await,
        "the server's user reads every terminal's alerts"
    );
    // Terminal b tries to follow terminal a (and everyone), besides its own acks.
    for filter in [
        envelope::sos_topic(prefix, &a.id),
        envelope::ack_topic(prefix, &a.id),
        format!("{prefix}/devices/+/sos"),
        format!("{prefix}/devices/#"),
        envelope::ack_topic(prefix, &b.id),
    ] {
        subscribe(&b_client, &mut b_loop, &filter).await;
    }

    let publish = |client: &AsyncClient, topic: String, text: &'static str| {
        let client = client.clone();
        async move {
            client
                .publish(topic, QoS::AtLeastOnce, false, text.as_bytes().to_vec())
                .await
                .expect("queue publish");
        }
    };
    // a's alert; b's forgery in a's name, then b's own message (the broker handles b's packets in order).
    publish(&a_client, envelope::sos_topic(prefix, &a.id), "alert-of-a").await;
    publish(&b_client, envelope::sos_topic(prefix, &a.id), "forged-by-b").await;
    publish(&b_client, envelope::sos_topic(prefix, &b.id), "alert-of-b").await;
    let (a_task, _) = reader(a_loop);
    let (b_task, mut b_received) = reader(b_loop);
    let (watcher_task, mut watched) = reader(watcher_loop);
    let mut seen = Vec::new();
    while !(seen.iter().any(|(_, text)| text == "alert-of-a")
        && seen.iter().any(|(_, text)| text == "alert-of-b"))
    {
        seen.push(received(&mut watched).await);
    }
    assert!(
        !seen.iter().any(|(_, text)| text == "forged-by-b"),
        "b's forgery in a's name was dropped: {seen:?}"
    );
    // a's alert has been routed; now a marker on b's ack topic: b must get the marker first, never a's alert.
    publish(&watcher, envelope::ack_topic(prefix, &b.id), "marker").await;
    let (topic, text) = received(&mut b_received).await;
    assert_eq!(
        (topic.as_str(), text.as_str()),
        (envelope::ack_topic(prefix, &b.id).as_str(), "marker"),
        "terminal b read nothing of terminal a"
    );
    for task in [a_task, b_task, watcher_task] {
        task.abort();
    }

    // The server, with its credentials, and terminal a on its own topics.
    let mut config = MqttConfig::from_url(
        &format!("mqtt://127.0.0.1:{}", broker.port),
        format!("jikimi-test-{}", Uuid::new_v4().simple()),
    )
    .expect("url");
    config.credentials = Some(MqttCredentials {
        username: SERVER_USER.into(),
        password: SERVER_PASSWORD.into(),
    });
    let intake = intake(h, config).await;
    let (a_client, mut a_loop) = client(broker.port, Some((&a_user, TERMINAL_PASSWORD)));
    assert_eq!(connect(&mut a_loop).await, Ok(()));
    sos_is_acknowledged(h, &a, a_client, a_loop).await;
    let (a_client, mut a_loop) = client(broker.port, Some((&a_user, TERMINAL_PASSWORD)));
    assert_eq!(connect(&mut a_loop).await, Ok(()));
    question_is_answered(h, &a, a_client, a_loop).await;
    intake.task.abort();
    drop(broker);
}

/// Under the ACL, a terminal reads the dispatcher's silent question on its own messages topic and its answer on its
/// own answer topic reaches the server, which acknowledges it.
async fn question_is_answered(
    h: &Harness,
    device: &TestDevice,
    client: AsyncClient,
    mut eventloop: EventLoop,
) {
    let prefix = envelope::DEFAULT_PREFIX;
    for filter in [
        envelope::messages_topic(prefix, &device.id),
        envelope::ack_topic(prefix, &device.id),
    ] {
        assert!(
            subscribe(&client, &mut eventloop, &filter).await,
            "{filter}"
        );
    }
    let (task, mut inbox) = reader(eventloop);
    let incident = crate::app::raise(h, device, true, 1).await;
    let dispatcher = h.login_as(jikimi_server::roles::Role::Dispatcher).await;
    let (status, sent) = h
        .call(
            axum::http::Method::POST,
            &format!("/api/incidents/{incident}/messages"),
            Some(&dispatcher),
            Some(serde_json::json!({"canned": "safe-now"})),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::CREATED, "{sent}");
    let (topic, text) = received(&mut inbox).await;
    assert_eq!(topic, envelope::messages_topic(prefix, &device.id));
    let question: Value = serde_json::from_str(&text).expect("question json");
    let shown = &question["messages"][0];
    let message_id = Uuid::parse_str(shown["message_id"].as_str().expect("id")).expect("uuid");
    let body = serde_json::json!({"incident_id": shown["incident_id"], "answer": shown["options"][0]["answer"]});
    client
        .publish(
            envelope::answer_topic(prefix, &device.id, &message_id),
            QoS::AtLeastOnce,
            false,
            envelope::sign_answer(
                &device.key,
                &device.id,
                &message_id,
                h.now_s(),
                &Uuid::new_v4().simple().to_string(),
                &body.to_string(),
            ),
        )
        .await
        .expect("queue publish");
    let (topic, text) = received(&mut inbox).await;
    assert_eq!(topic, envelope::ack_topic(prefix, &device.id));
    let ack: Value = serde_json::from_str(&text).expect("ack json");
    assert_eq!(ack["kind"], "answer", "{ack}");
    assert_eq!(ack["error"], Value::Null, "{ack}");
    task.abort();
}

/// A throw-away CA and a broker certificate for 127.0.0.1 and localhost, written to `dir`: (CA, cert, key).
fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "jikimi test broker CA");
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let paths = (
        dir.join("ca.pem"),
        dir.join("broker.pem"),
        dir.join("broker.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write ca");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}

/// `mqtts://` with `--mqtt-ca`: the server reaches a TLS-only broker whose certificate the given CA signed, and a
/// terminal's SOS over TLS is acknowledged; without that CA (the public roots) the connection is refused.
pub async fn mqtts_with_a_private_ca(h: &Harness) {
    let device = h.device().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = pki(dir.path());
    let settings = format!(
        "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}",
        ca.display(),
        cert.display(),
        key.display()
    );
    let Some(broker) = Broker::start(dir, &settings) else {
        return;
    };
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let mut config = MqttConfig::from_url(&url, format!("jikimi-test-{}", Uuid::new_v4().simple()))
        .expect("url");

    // The public web roots do not know the throw-away CA: the handshake fails.
    let untrusting = config.options(64 * 1024).expect("options");
    let (_, mut eventloop) = AsyncClient::new(untrusting, 10);
    let refused = next_packet(&mut eventloop).await;
    assert!(
        matches!(refused, Err(ConnectionError::Tls(_))),
        "an unknown CA is refused: {refused:?}"
    );

    config.tls = Some(MqttTls {
        ca: Some(ca.clone()),
    });
    let intake = intake(h, config.clone()).await;
    let terminal = MqttConfig {
        client_id: format!("terminal-{}", Uuid::new_v4().simple()),
        ..config
    };
    let (client, mut eventloop) =
        AsyncClient::new(terminal.options(64 * 1024).expect("options"), 100);
    assert_eq!(connect(&mut eventloop).await, Ok(()));
    sos_is_acknowledged(h, &device, client, eventloop).await;
    intake.task.abort();
    drop(broker);
}
