# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = siz qaraydigan kishi
guardian-alert-subject = jikimi: { $who } SOS chaqiruvi yubordi
guardian-alert-body = { $who } { $time } da SOS chaqiruvi yubordi. 112 markazi uni qabul qildi va choralar koʻrmoqda.
guardian-dispatched-subject = jikimi: politsiya { $who } oldiga yoʻlda
guardian-dispatched-body = { $time } da { $who } oldiga politsiya xodimlari yuborildi.
guardian-closed-subject = jikimi: { $who } chaqiruvi yopildi
guardian-closed-body = 112 markazi { $who } chaqiruvini { $time } da yopdi.
guardian-reference = Raqam: { $reference }
guardian-no-reply = Bu xabarga javob bermang. Foydali maʼlumotingiz boʻlsa, 112 ga qoʻngʻiroq qiling.
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
