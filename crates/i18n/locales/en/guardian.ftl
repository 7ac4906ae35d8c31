# Guardian notifications (e-mail, webhook). Variables: $who (the person looked after), $time, $reference.
# They say that 112 is responding, never where or why.
guardian-someone = the person you look after
guardian-alert-subject = jikimi: SOS alert from { $who }
guardian-alert-body = { $who } raised an SOS alert at { $time }. The 112 centre has received it and is responding.
guardian-dispatched-subject = jikimi: police on their way to { $who }
guardian-dispatched-body = Police officers were sent to { $who } at { $time }.
guardian-closed-subject = jikimi: alert from { $who } closed
guardian-closed-body = The 112 centre closed the alert from { $who } at { $time }.
guardian-reference = Reference: { $reference }
guardian-no-reply = Please do not reply to this message. If you know something that may help, call 112.
