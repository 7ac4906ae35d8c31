# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Помощь уже в пути.
device-location-received = Местоположение отправлено.
device-cancelled = Ваш вызов отменён.
device-refused = Не принято: если можете, позвоните по номеру 112.
