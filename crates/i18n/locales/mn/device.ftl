# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Тусламж ирж байна.
device-location-received = Байршил илгээгдлээ.
device-cancelled = Таны дуудлага цуцлагдлаа.
device-refused = Хүлээн авсангүй: боломжтой бол 112 руу залгана уу.
