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
