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
# A declared disaster (variables: $who, $time, $area, the disaster's title): their person is asked whether they are
# safe, then answers, or stays silent.
guardian-welfare-asked-subject = jikimi: { $who } may be in the area of { $area }
guardian-welfare-asked-body = A disaster ({ $area }) was declared at { $time } where { $who } was last known to be. jikimi is asking { $who } whether they are safe; you will be told when they answer.
guardian-welfare-safe-subject = jikimi: { $who } answered that they are safe
guardian-welfare-safe-body = { $who } answered at { $time } that they are safe ({ $area }).
guardian-welfare-need-help-subject = jikimi: { $who } answered that they need help
guardian-welfare-need-help-body = { $who } answered at { $time } that they need help ({ $area }). Rescuers have been told.
guardian-welfare-trapped-subject = jikimi: { $who } answered that they are trapped
guardian-welfare-trapped-body = { $who } answered at { $time } that they are trapped ({ $area }). Rescue teams have been told and go to people in order of urgency.
guardian-welfare-injured-subject = jikimi: { $who } answered that they are injured
guardian-welfare-injured-body = { $who } answered at { $time } that they are injured ({ $area }). Medical teams have been told.
guardian-welfare-silent-subject = jikimi: no answer yet from { $who }
guardian-welfare-silent-body = As of { $time }, { $who } has not answered whether they are safe ({ $area }). If you can reach them, ask them to answer, or call 112.
