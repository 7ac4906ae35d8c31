# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = មនុស្សដែលអ្នកមើលថែ
guardian-alert-subject = jikimi៖ { $who } បានផ្ញើសញ្ញាបន្ទាន់ SOS
guardian-alert-body = { $who } បានផ្ញើសញ្ញាបន្ទាន់ SOS នៅម៉ោង { $time }។ មជ្ឈមណ្ឌល 112 បានទទួល ហើយកំពុងចាត់វិធានការ។
guardian-dispatched-subject = jikimi៖ ប៉ូលិសកំពុងទៅរក { $who }
guardian-dispatched-body = ប៉ូលិសត្រូវបានបញ្ជូនទៅរក { $who } នៅម៉ោង { $time }។
guardian-closed-subject = jikimi៖ សញ្ញារបស់ { $who } ត្រូវបានបិទ
guardian-closed-body = មជ្ឈមណ្ឌល 112 បានបិទសញ្ញារបស់ { $who } នៅម៉ោង { $time }។
guardian-reference = លេខយោង៖ { $reference }
guardian-no-reply = សូមកុំឆ្លើយតបសារនេះ។ ប្រសិនបើអ្នកមានព័ត៌មានដែលអាចជួយបាន សូមទូរស័ព្ទទៅ 112។
