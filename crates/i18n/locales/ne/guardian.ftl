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
