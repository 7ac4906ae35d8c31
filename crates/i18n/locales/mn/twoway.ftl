# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 112-оос ирсэн мессеж
twoway-title-discreet = Шинэ мессеж

twoway-attacker-present = Халдагч тэнд байгаа хэвээр үү?
twoway-attacker-present-discreet = Одоо хажууд чинь хүн байна уу?
twoway-safe-now = Та одоо аюулгүй юу?
twoway-safe-now-discreet = Зүгээр үү?
twoway-injured = Гэмтсэн хүн байна уу?
twoway-injured-discreet = Хэн нэг нь өвдөж байна уу?
twoway-people-count = Халдагч хэдэн хүн бэ?
twoway-people-count-discreet = Хажууд чинь хэдэн хүн байна?
twoway-where = Та хаана байна?
twoway-where-discreet = Одоо хаана байна?
twoway-help-coming = Цагдаа ойролцоогоор { $minutes } минутад ирнэ. Боломжтой бол нуугдаж байгаарай.
twoway-help-coming-discreet = Сануулга: ойролцоогоор { $minutes } минут.

twoway-answer-yes = Тийм
twoway-answer-no = Үгүй
twoway-answer-number = Тоо дарна уу
twoway-preset-inside = Барилга дотор
twoway-preset-outside = Гадаа
twoway-preset-vehicle = Машинд
twoway-preset-ok = OK
