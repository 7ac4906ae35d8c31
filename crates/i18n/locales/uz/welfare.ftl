# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: xavfsizmisiz?
welfare-check-body = { $area } yaqinida favqulodda holat bor. Xavfsizmisiz? Xavfsiz boʻlsangiz 1, yordam kerak boʻlsa 2 deb javob bering.
welfare-safe-reply = Rahmat. Xavfsiz ekaningizni qayd etdik.
welfare-help-reply = Yordam tashkil qilinmoqda. Agar xavfsiz boʻlsa, turgan joyingizda qoling.
