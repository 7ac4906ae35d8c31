# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = ang taong inaalagaan mo
guardian-alert-subject = jikimi: SOS alerto mula kay { $who }
guardian-alert-body = Nagpadala si { $who } ng SOS alerto noong { $time }. Natanggap ito ng 112 center at kumikilos na sila.
guardian-dispatched-subject = jikimi: papunta na ang pulis kay { $who }
guardian-dispatched-body = Pinapunta ang mga pulis kay { $who } noong { $time }.
guardian-closed-subject = jikimi: isinara na ang alerto mula kay { $who }
guardian-closed-body = Isinara ng 112 center ang alerto mula kay { $who } noong { $time }.
guardian-reference = Reference: { $reference }
guardian-no-reply = Huwag sagutin ang mensaheng ito. Kung may alam kang makatutulong, tumawag sa 112.
# English until translated (disaster notices to guardians).
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
