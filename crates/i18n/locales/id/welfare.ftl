# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: apakah Anda aman?
welfare-check-body = Ada keadaan darurat di dekat { $area }. Apakah Anda aman? Balas 1 jika aman, 2 jika perlu bantuan.
welfare-safe-reply = Terima kasih. Kami mencatat bahwa Anda aman.
welfare-help-reply = Bantuan sedang diatur. Tetaplah di tempat Anda jika tempat itu aman.
