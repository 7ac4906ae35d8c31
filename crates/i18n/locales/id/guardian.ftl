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
