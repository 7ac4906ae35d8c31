# Device feedback: what the app or terminal shows or says after its request. Short, plain, no jargon.
device-alert-accepted = Help is on its way.
device-location-received = Location sent.
device-cancelled = Your alert was cancelled.
device-refused = Not accepted: call 112 if you can.
