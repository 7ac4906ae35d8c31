# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Papunta na ang tulong.
device-location-received = Naipadala na ang lokasyon.
device-cancelled = Kinansela ang iyong alerto.
device-refused = Hindi natanggap: tumawag sa 112 kung kaya mo.
