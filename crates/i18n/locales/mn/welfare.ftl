# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: та аюулгүй байна уу?
welfare-check-body = { $area } орчимд онцгой байдал үүслээ. Та аюулгүй байна уу? Аюулгүй бол 1, тусламж хэрэгтэй бол 2 гэж хариулна уу.
welfare-safe-reply = Баярлалаа. Таныг аюулгүй гэж тэмдэглэлээ.
welfare-help-reply = Тусламж зохион байгуулж байна. Аюулгүй бол байгаа газраасаа бүү хөдөл.
