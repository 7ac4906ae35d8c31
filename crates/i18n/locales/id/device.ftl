# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Bantuan sedang menuju ke sana.
device-location-received = Lokasi terkirim.
device-cancelled = Panggilan darurat Anda dibatalkan.
device-refused = Tidak diterima: hubungi 112 jika bisa.
