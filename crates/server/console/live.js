// The live feed client: reads /api/live (Server-Sent Events) with fetch so it can send the bearer token,
// remembers the last event id and resumes after it on reconnect. The server answers every (re)connection with a
// `hello` event saying whether the client must reload its snapshot (new server epoch, or too far behind); a
// `resync` event says the same mid-stream. Events are never silently lost.

export class LiveFeed {
  constructor({ token, onEvent, onResync, onState }) {
    this.token = token;
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onState = onState;
    this.lastId = null;
    this.stopped = false;
    this.controller = null;
    this.backoff = 250;
  }

  start() { this.loop(); }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async loop() {
    while (!this.stopped) {
      try {
        await this.connect();
      } catch (err) {
        if (this.stopped) return;
      }
      this.onState(false);
      await new Promise((r) => setTimeout(r, this.backoff));
      this.backoff = Math.min(this.backoff * 2, 4000);
    }
  }

  async connect() {
    this.controller = new AbortController();
    const headers = { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' };
    if (this.lastId) headers['Last-Event-ID'] = this.lastId;
    const res = await fetch('/api/live', { headers, signal: this.controller.signal, cache: 'no-store' });
    if (res.status === 401) {
      this.stopped = true;
      this.onState(false, 'unauthenticated');
      return;
    }
    if (!res.ok || !res.body) throw new Error(`live feed: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let event = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (data.length === 0) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (id) this.lastId = id;
    if (event === 'hello') {
      this.backoff = 250;
      this.onState(true);
      if (payload.resync) this.onResync();
    } else if (event === 'resync') {
      this.onResync();
    } else {
      this.onEvent(event, payload);
    }
  }
}
