# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = Tin nhắn từ 112
twoway-title-discreet = Tin nhắn mới

twoway-attacker-present = Kẻ tấn công còn ở đó không?
twoway-attacker-present-discreet = Bây giờ có ai ở cùng bạn không?
twoway-safe-now = Bây giờ bạn có an toàn không?
twoway-safe-now-discreet = Bạn ổn chứ?
twoway-injured = Có ai bị thương không?
twoway-injured-discreet = Có ai bị đau không?
twoway-people-count = Có bao nhiêu kẻ tấn công?
twoway-people-count-discreet = Có bao nhiêu người ở cùng bạn?
twoway-where = Bạn đang ở đâu?
twoway-where-discreet = Bây giờ bạn ở đâu?
twoway-help-coming = Cảnh sát sẽ đến trong khoảng { $minutes } phút. Hãy ẩn nấp nếu có thể.
twoway-help-coming-discreet = Nhắc nhở: khoảng { $minutes } phút.

twoway-answer-yes = Có
twoway-answer-no = Không
twoway-answer-number = Chạm vào một số
twoway-preset-inside = Trong tòa nhà
twoway-preset-outside = Ngoài trời
twoway-preset-vehicle = Trong xe
twoway-preset-ok = OK
