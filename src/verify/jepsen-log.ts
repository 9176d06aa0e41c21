// Parses the event lines of a Jepsen register test log (`INFO  jepsen.util - <process> <type>
// <f> <value>`) into events for the history builder, all on one key.

import { InvalidArgumentError } from '../core/errors.js';
import {
  buildHistory,
  DEFAULT_KEY,
  EVENT_TYPES,
  OP_FUNCTIONS,
  type EventType,
  type HistoryEvent,
  type Op,
  type OpFunction,
} from './history.js';

/** A log line that looks like an event but cannot be read as one. */
export class JepsenLogError extends InvalidArgumentError {
  constructor(
    readonly line: number,
    reason: string,
    text: string,
  ) {
    super(`line ${line}: ${reason}: ${JSON.stringify(text)}`);
  }
}

const EVENT_MARKER = 'jepsen.util - ';
/** The fault injector logs through the same function; its events are not client operations. */
const NEMESIS = ':nemesis';

/**
 * Events in log order. Fields are separated by tabs in most published logs and by runs of
 * spaces in some, so any whitespace separates them; the value is the rest of the line, since a
 * cas value (`[1 2]`) contains a space. A line is an event when the text after the marker reads
 * `<process> :<keyword> …`; other lines (banners, stack traces) are skipped.
 */
export function parseJepsenLog(text: string, key: string = DEFAULT_KEY): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const at = raw.indexOf(EVENT_MARKER);
    if (at < 0) return;
    const fields = /^(\S+)\s+(:\S+)(?:\s+(\S+))?(?:\s+(.*?))?\s*$/.exec(
      raw.slice(at + EVENT_MARKER.length),
    );
    if (fields === null) return;
    const [, processText = '', typeText = '', fText, valueText] = fields;
    if (processText === NEMESIS) return;
    const bad = (reason: string) => new JepsenLogError(line, reason, raw);
    if (!/^\d+$/.test(processText)) throw bad(`process ${processText} is not a number`);
    const type = typeText.slice(1);
    if (!Object.hasOwn(EVENT_TYPES, type)) throw bad(`unknown event type ${typeText}`);
    const f = fText?.startsWith(':') ? fText.slice(1) : undefined;
    if (f === undefined || !Object.hasOwn(OP_FUNCTIONS, f)) {
      throw bad(`expected :read, :write or :cas, got ${fText ?? 'nothing'}`);
    }
    if (valueText === undefined || valueText === '') throw bad('the value is missing');
    let value: unknown;
    try {
      value = parseValue(valueText);
    } catch (err) {
      throw bad((err as Error).message);
    }
    events.push({
      process: Number(processText),
      type: type as EventType,
      f: f as OpFunction,
      value,
      key,
      line,
    });
  });
  return events;
}

/** `nil`, an integer, a keyword (`:timed-out`, kept as its text) or a vector `[a b]` of those. */
function parseValue(text: string): unknown {
  if (text === 'nil') return null;
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^:[\w.-]+$/.test(text)) return text;
  const vector = /^\[(.*)\]$/.exec(text);
  if (vector !== null) {
    const items = vector[1]!.trim();
    return items === '' ? [] : items.split(/[\s,]+/).map(parseValue);
  }
  throw new Error(`cannot read the value ${text}`);
}

/** Parses a log and pairs its events into operations. */
export function readJepsenHistory(text: string, key?: string): Op[] {
  return buildHistory(parseJepsenLog(text, key), key);
}
