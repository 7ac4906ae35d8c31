// Silent two-way text in the console: the "ask" dialog (Q: a canned question or free text, sent to the device that
// raised the incident) and the timeline's words for questions and tapped answers. The device shows the question
// without sound; after a duress PIN it shows a neutral form unless the dispatcher ticks "reveal" (audited).

import { t } from './i18n.js';

// The server's canned questions (jikimi_respond::twoway::CANNED), in its order.
export const CANNED = ['attacker-present', 'safe-now', 'injured', 'people-count', 'where', 'help-coming'];
const FREE = 'free';
const FREE_MAX = 160;
// The taps a free-text question may offer.
const FREE_ANSWERS = {
  yes_no: { kind: 'yes_no' },
  number: { kind: 'number', min: 0, max: 10 },
  place: { kind: 'preset', options: ['inside', 'outside', 'vehicle'] },
  ok: { kind: 'preset', options: ['ok'] },
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function field(id, label, control) {
  const wrap = el('div', 'field');
  const l = el('label', null, label);
  l.htmlFor = id;
  control.id = id;
  wrap.append(l, control);
  return wrap;
}

// Builds the dialog body for `incident`; `read()` returns the request body, or null with a message to show.
export function askForm(incident) {
  const body = el('div', 'ask');
  const which = el('select');
  for (const id of [...CANNED, FREE]) {
    const o = el('option', null, id === FREE ? t('askFree') : t(`q_${id}`));
    o.value = id;
    which.append(o);
  }
  const minutes = el('input');
  minutes.type = 'number';
  minutes.min = '1';
  minutes.max = '99';
  minutes.value = '5';
  const text = el('input');
  text.type = 'text';
  text.maxLength = FREE_MAX;
  const answers = el('select');
  for (const key of Object.keys(FREE_ANSWERS)) {
    const o = el('option', null, t(`askA_${key}`));
    o.value = key;
    answers.append(o);
  }
  const minutesField = field('ask-minutes', t('askMinutes'), minutes);
  const textField = field('ask-text', `${t('askText')} (≤ ${FREE_MAX})`, text);
  const answersField = field('ask-answer', t('askAnswer'), answers);
  const reveal = el('input');
  reveal.type = 'checkbox';
  reveal.id = 'ask-reveal';
  const revealLabel = el('label', 'check', t('askReveal'));
  revealLabel.htmlFor = 'ask-reveal';
  const revealField = el('div', 'field check-row');
  revealField.append(reveal, revealLabel);
  const note = el('p', 'muted small', incident.duress ? t('askDuressNote') : t('askSilentNote'));
  const sync = () => {
    const free = which.value === FREE;
    minutesField.hidden = which.value !== 'help-coming';
    textField.hidden = !free;
    answersField.hidden = !free;
  };
  which.addEventListener('change', sync);
  // Keyboard first: Enter on a choice sends, as it does in a text field.
  body.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.target.tagName !== 'SELECT') return;
    e.preventDefault();
    e.target.form?.requestSubmit(document.getElementById('dialog-ok'));
  });
  body.append(field('ask-which', t('askWhich'), which), minutesField, textField, answersField);
  if (incident.duress) body.append(revealField);
  body.append(note);
  sync();
  const read = () => {
    const req = { reveal: reveal.checked };
    if (which.value === FREE) {
      const words = text.value.trim();
      if (!words) return { error: t('askText') };
      req.text = words;
      req.answer = FREE_ANSWERS[answers.value];
    } else {
      req.canned = which.value;
      if (which.value === 'help-coming') req.args = { minutes: String(Math.max(1, Math.min(99, Number(minutes.value) || 5))) };
    }
    return { req };
  };
  return { body, read };
}

function answerText(answer) {
  if (!answer) return '';
  switch (answer.kind) {
    case 'yes_no': return answer.value ? t('yes') : t('no');
    case 'number': return String(answer.value);
    case 'preset': return t(`p_${answer.value}`);
    default: return '';
  }
}

function questionText(e) {
  const q = e.question;
  if (!q) return e.canned ? t(`q_${e.canned}`) : '';
  if (q.kind === 'canned') {
    const minutes = q.args?.minutes ? ` (${q.args.minutes} ${t('minutes')})` : '';
    return `${t(`q_${q.id}`)}${minutes}`;
  }
  return `“${q.text}”`;
}

// The timeline's text for a question or an answer event; `events` finds an answer's question.
export function twowayEventText(ev, events) {
  const e = ev.event;
  if (e.type === 'question_sent') return `${questionText(e)}${e.reveal ? ` [${t('askRevealed')}]` : ''}`;
  if (e.type === 'answer_received') {
    const asked = events.find((x) => x.event.type === 'question_sent' && x.event.message_id === e.message_id);
    const answer = answerText(e.answer);
    return asked ? `${answer} ← ${questionText(asked.event)}` : answer;
  }
  return '';
}
