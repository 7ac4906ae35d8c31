# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = तपाईंले हेरचाह गर्ने व्यक्ति
guardian-alert-subject = jikimi: { $who } ले SOS आपतकालीन सूचना पठाउनुभयो
guardian-alert-body = { $who } ले { $time } मा SOS आपतकालीन सूचना पठाउनुभयो। 112 केन्द्रले प्राप्त गरी कारबाही गर्दैछ।
guardian-dispatched-subject = jikimi: प्रहरी { $who } तर्फ जाँदैछ
guardian-dispatched-body = { $time } मा प्रहरी { $who } तर्फ पठाइयो।
guardian-closed-subject = jikimi: { $who } को सूचना बन्द गरियो
guardian-closed-body = 112 केन्द्रले { $who } को सूचना { $time } मा बन्द गर्‍यो।
guardian-reference = सन्दर्भ नम्बर: { $reference }
guardian-no-reply = यो सन्देशको जवाफ नदिनुहोस्। सहयोगी जानकारी छ भने 112 मा फोन गर्नुहोस्।
# English until translated (disaster notices to guardians).
guardian-welfare-asked-subject = jikimi: { $who } may be in the area of { $area }
guardian-welfare-asked-body = A disaster ({ $area }) was declared at { $time } where { $who } was last known to be. jikimi is asking { $who } whether they are safe; you will be told when they answer.
guardian-welfare-safe-subject = jikimi: { $who } answered that they are safe
guardian-welfare-safe-body = { $who } answered at { $time } that they are safe ({ $area }).
guardian-welfare-need-help-subject = jikimi: { $who } answered that they need help
guardian-welfare-need-help-body = { $who } answered at { $time } that they need help ({ $area }). Rescuers have been told.
guardian-welfare-trapped-subject = jikimi: { $who } answered that they are trapped
guardian-welfare-trapped-body = { $who } answered at { $time } that they are trapped ({ $area }). Rescue teams have been told and go to people in order of urgency.
guardian-welfare-injured-subject = jikimi: { $who } answered that they are injured
guardian-welfare-injured-body = { $who } answered at { $time } that they are injured ({ $area }). Medical teams have been told.
guardian-welfare-silent-subject = jikimi: no answer yet from { $who }
guardian-welfare-silent-body = As of { $time }, { $who } has not answered whether they are safe ({ $area }). If you can reach them, ask them to answer, or call 112.
