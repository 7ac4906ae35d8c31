-- A code issued by a supervisor with `replace_pins` may replace a subscriber's existing PINs at enrolment; any
-- other code may only set PINs where none are set (so a code holder cannot silently change a victim's PINs).
ALTER TABLE enrolment_codes ADD COLUMN replace_pins BOOLEAN NOT NULL DEFAULT FALSE;
