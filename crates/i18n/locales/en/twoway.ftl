## Silent two-way text (issue 21, part 5): a dispatcher's question, shown silently on the subscriber's app or
## terminal, answered with a tap. Every canned question has a plain form and a -discreet form. The discreet form is
## shown after a duress PIN, when whoever holds the device may be the attacker: neutral wording, as from any app,
## saying nothing of police or 112.

twoway-title = Message from 112
twoway-title-discreet = New message

twoway-attacker-present = Is the attacker still there?
twoway-attacker-present-discreet = Is someone with you right now?
twoway-safe-now = Are you safe right now?
twoway-safe-now-discreet = Are you OK?
twoway-injured = Is anyone injured?
twoway-injured-discreet = Is anyone hurt?
twoway-people-count = How many attackers are there?
twoway-people-count-discreet = How many people are with you?
twoway-where = Where are you?
twoway-where-discreet = Where are you now?
twoway-help-coming = Police will arrive in about { $minutes } minutes. Stay hidden if you can.
twoway-help-coming-discreet = Reminder: about { $minutes } minutes.

twoway-answer-yes = Yes
twoway-answer-no = No
twoway-answer-number = Tap a number
twoway-preset-inside = Inside a building
twoway-preset-outside = Outside
twoway-preset-vehicle = In a vehicle
twoway-preset-ok = OK
