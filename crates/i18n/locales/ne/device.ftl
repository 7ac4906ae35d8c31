# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = सहायता आउँदैछ।
device-location-received = स्थान पठाइयो।
device-cancelled = तपाईंको आपतकालीन सूचना रद्द गरियो।
device-refused = स्वीकार भएन: सक्नुहुन्छ भने 112 मा फोन गर्नुहोस्।
