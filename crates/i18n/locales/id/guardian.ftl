# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = orang yang Anda jaga
guardian-alert-subject = jikimi: panggilan darurat SOS dari { $who }
guardian-alert-body = { $who } mengirim panggilan darurat SOS pada { $time }. Pusat 112 telah menerimanya dan sedang menanganinya.
guardian-dispatched-subject = jikimi: polisi sedang menuju { $who }
guardian-dispatched-body = Petugas polisi dikirim ke { $who } pada { $time }.
guardian-closed-subject = jikimi: panggilan dari { $who } ditutup
guardian-closed-body = Pusat 112 menutup panggilan dari { $who } pada { $time }.
guardian-reference = Nomor referensi: { $reference }
guardian-no-reply = Jangan membalas pesan ini. Jika Anda tahu sesuatu yang dapat membantu, hubungi 112.
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
