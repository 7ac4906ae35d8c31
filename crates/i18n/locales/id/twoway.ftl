# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = Pesan dari 112
twoway-title-discreet = Pesan baru

twoway-attacker-present = Apakah penyerang masih di sana?
twoway-attacker-present-discreet = Apakah ada orang bersamamu sekarang?
twoway-safe-now = Apakah Anda aman sekarang?
twoway-safe-now-discreet = Kamu baik-baik saja?
twoway-injured = Apakah ada yang terluka?
twoway-injured-discreet = Ada yang sakit?
twoway-people-count = Berapa orang penyerangnya?
twoway-people-count-discreet = Berapa orang bersamamu?
twoway-where = Di mana Anda?
twoway-where-discreet = Kamu di mana sekarang?
twoway-help-coming = Polisi akan tiba sekitar { $minutes } menit lagi. Bersembunyilah jika bisa.
twoway-help-coming-discreet = Pengingat: sekitar { $minutes } menit.

twoway-answer-yes = Ya
twoway-answer-no = Tidak
twoway-answer-number = Ketuk sebuah angka
twoway-preset-inside = Di dalam gedung
twoway-preset-outside = Di luar
twoway-preset-vehicle = Di dalam kendaraan
twoway-preset-ok = OK
