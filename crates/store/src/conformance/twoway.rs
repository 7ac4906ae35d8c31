//! Silent two-way text: a dispatcher's question and the device's answer are incident events; the device finds its
//! open incidents (and so its questions) with the `device_id` filter; a replayed or second answer changes nothing.

use super::{TestStore, accept_one, alert, staff_change, t};
use crate::{Conflict, DeviceEvent, Error, IncidentFilter};
use jikimi_respond::{
    Answer, AnswerKind, DeviceId, EventKind, IncidentStatus, Outcome, Question, TransitionError,
};

fn answer(
    incident_id: jikimi_respond::IncidentId,
    device_id: DeviceId,
    message_id: uuid::Uuid,
    value: Answer,
    ms: i64,
) -> DeviceEvent {
    DeviceEvent {
        incident_id,
        device_id,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        kind: EventKind::AnswerReceived {
            message_id,
            answer: value,
        },
        pin_accepted: false,
        at: t(ms),
        reason: "answer a question".into(),
    }
}

/// A question is answered once by the incident's own device; the device's open incidents are listed by device.
pub(crate) async fn questions_are_answered_once_by_their_device<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let other = DeviceId::new_v4();
    let incident_id = accept_one(&store, alert(device, 1_000)).await;
    let closed_id = accept_one(&store, alert(device, 1_100)).await;
    let others_id = accept_one(&store, alert(other, 1_200)).await;
    store
        .append_event(
            closed_id,
            1,
            EventKind::Closed {
                outcome: Outcome::FalseAlarm,
            },
            &staff_change("kim", 1_300, "close"),
        )
        .await
        .unwrap();

    let open_of_device = IncidentFilter {
        device_id: Some(device),
        ..IncidentFilter::open()
    };
    let listed: Vec<_> = store
        .list_incidents(&open_of_device)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, vec![incident_id]);
    let all_of_other: Vec<_> = store
        .list_incidents(&IncidentFilter {
            device_id: Some(other),
            ..IncidentFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all_of_other, vec![others_id]);

    let message_id = uuid::Uuid::new_v4();
    let asked = store
        .append_event(
            incident_id,
            1,
            EventKind::QuestionSent {
                message_id,
                question: Question::Canned {
                    id: "people-count".into(),
                    args: Default::default(),
                },
                answer_kind: AnswerKind::Number { min: 0, max: 20 },
                reveal: false,
            },
            &staff_change("kim", 2_000, "ask the device"),
        )
        .await
        .unwrap();
    assert_eq!(asked.messages.len(), 1);
    assert_eq!(asked.messages[0].answer, None);

    // Another device cannot answer: the incident looks missing to it.
    let stranger = answer(incident_id, other, message_id, Answer::Number(2), 2_500);
    assert!(
        store
            .append_device_event(&stranger)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // A tap the question did not offer is refused.
    let out_of_range = answer(incident_id, device, message_id, Answer::Number(99), 2_600);
    assert!(matches!(
        store.append_device_event(&out_of_range).await,
        Err(Error::IllegalTransition(TransitionError::AnswerMismatch(_)))
    ));

    let tapped = answer(incident_id, device, message_id, Answer::Number(2), 3_000);
    let incident = store.append_device_event(&tapped).await.unwrap();
    assert_eq!(incident.messages[0].answer, Some(Answer::Number(2)));
    assert_eq!(incident.messages[0].answered_at, Some(t(3_000)));
    assert_eq!(incident.status, IncidentStatus::Received);
    // The same signed request again is a replay; a fresh one is a second answer: both change nothing.
    assert!(matches!(
        store.append_device_event(&tapped).await,
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    let again = answer(incident_id, device, message_id, Answer::Number(3), 3_100);
    assert!(matches!(
        store.append_device_event(&again).await,
        Err(Error::IllegalTransition(TransitionError::AlreadyAnswered(
            _
        )))
    ));
    let stored = store.get_incident(incident_id).await.unwrap();
    assert_eq!(stored, incident);
    let events = store.load_events(incident_id).await.unwrap();
    let names: Vec<_> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        ["alert_received", "question_sent", "answer_received"]
    );
    // Both are audited.
    let audit = store.list_audit(0, 1_000).await.unwrap();
    for action in ["incident.question_sent", "incident.answer_received"] {
        assert_eq!(
            audit.iter().filter(|e| e.action == action).count(),
            1,
            "{action}"
        );
    }
    // The projection survives a rebuild from the events.
    store.rebuild_projections().await.unwrap();
    assert_eq!(store.get_incident(incident_id).await.unwrap(), incident);
}
