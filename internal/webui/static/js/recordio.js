// RecordIO framing as the Mesos HTTP APIs stream it: each record is its
// length in decimal, a newline, then that many bytes.

const MAX_HEADER = 20; // digits of a 64-bit length, and its newline

// RecordReader splits a RecordIO byte stream into records as its chunks
// arrive (a record may span chunks, a chunk may hold many records). Chunks
// are kept as they came and a record is copied out once, when it is
// complete: the SUBSCRIBED snapshot of a big cluster is tens of
// megabytes in hundreds of chunks, and growing one buffer per chunk would
// copy it hundreds of times.
export class RecordReader {
  constructor(maxRecord = 256 << 20) {
    this.chunks = []; // bytes not yet returned, in order
    this.size = 0; // their total length
    this.need = -1; // the current record's length once its header is read
    this.max = maxRecord;
    this.at = 0; // bytes read so far, for error messages
  }

  // push adds bytes and returns the complete records they finish.
  push(chunk) {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out = [];
    for (;;) {
      if (this.need < 0) {
        const nl = this.newline();
        if (nl < 0) {
          if (this.size > MAX_HEADER) throw new Error(`bad RecordIO length at byte ${this.at}`);
          break;
        }
        const text = new TextDecoder().decode(this.take(nl + 1).subarray(0, nl));
        const len = /^[0-9]+$/.test(text) ? Number(text) : NaN;
        if (!Number.isInteger(len) || len > this.max) throw new Error(`bad RecordIO length at byte ${this.at - nl - 1}`);
        this.need = len;
      }
      if (this.size < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  // newline is the offset of the first newline within the header's
  // reach, or -1.
  newline() {
    let off = 0;
    for (const c of this.chunks) {
      const i = c.subarray(0, MAX_HEADER + 1 - off).indexOf(10);
      if (i >= 0) return off + i;
      off += c.length;
      if (off > MAX_HEADER) break;
    }
    return -1;
  }

  // take removes and returns the first n bytes (n <= size).
  take(n) {
    this.at += n;
    this.size -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift(); else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - got);
      out.set(c.subarray(0, k), got);
      got += k;
      if (k === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
