// RecordIO framing as the Mesos HTTP APIs stream it: each record is its
// length in decimal, a newline, then that many bytes.

// RecordReader splits a RecordIO byte stream into records as its chunks
// arrive (a record may span chunks, a chunk may hold many records).
export class RecordReader {
  constructor(maxRecord = 64 << 20) {
    this.buf = new Uint8Array(0);
    this.max = maxRecord;
  }
  // push adds bytes and returns the complete records they finish.
  push(chunk) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    const out = [];
    let at = 0;
    for (;;) {
      const nl = b.indexOf(10, at);
      if (nl < 0) break;
      const text = new TextDecoder().decode(b.subarray(at, nl));
      const len = /^[0-9]+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(len) || len < 0 || len > this.max) throw new Error(`bad RecordIO length at byte ${at}`);
      if (b.length < nl + 1 + len) break;
      out.push(b.subarray(nl + 1, nl + 1 + len));
      at = nl + 1 + len;
    }
    this.buf = b.slice(at);
    return out;
  }
}

