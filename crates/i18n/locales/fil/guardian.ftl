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
