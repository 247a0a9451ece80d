/**
 * proto3 requires a `string` field to hold UTF-8 text. The protobuf runtime under the generated code decodes
 * strings leniently by default, turning bytes that are not UTF-8 into U+FFFD, so a request carrying, say,
 * Latin-1 text would be embedded or stored as replacement characters without a word to the caller. Every
 * decoder that uses these contracts is switched to strict decoding instead: such a message fails to decode
 * with {@link InvalidUtf8Error}, which the gRPC servers answer with INVALID_ARGUMENT (as Go and C++
 * protobuf do). ASCII strings keep the runtime's fast path; encoding is unchanged.
 */
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';

/** A protobuf string field whose bytes are not valid UTF-8. */
export class InvalidUtf8Error extends Error {
  constructor() {
    super('a string field holds bytes that are not valid UTF-8');
    this.name = 'InvalidUtf8Error';
  }
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = getTextEncoding();

// configureTextEncoding is marked deprecated in favour of installing a TextDecoder on globalThis, which would
// change decoding for every library in the process; this changes it for the protobuf runtime only.
configureTextEncoding({
  ...lenient,
  decodeUtf8(bytes: Uint8Array): string {
    try {
      return strictDecoder.decode(bytes);
    } catch {
      throw new InvalidUtf8Error();
    }
  },
});
