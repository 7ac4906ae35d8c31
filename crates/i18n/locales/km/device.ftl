# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = ជំនួយកំពុងមក។
device-location-received = បានផ្ញើទីតាំងហើយ។
device-cancelled = ការជូនដំណឹងបន្ទាន់របស់អ្នកត្រូវបានលុបចោល។
device-refused = មិនបានទទួល៖ សូមទូរស័ព្ទទៅ 112 ប្រសិនបើអាច។
