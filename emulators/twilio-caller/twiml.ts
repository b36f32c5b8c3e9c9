// A small TwiML reader: enough XML to follow what the platform answers to a voice webhook, the way Twilio would.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export class TwimlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TwimlError";
  }
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e === "amp") return "&";
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "quot") return '"';
    if (e === "apos") return "'";
    const code = e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

/** Parses well-formed XML into elements; throws TwimlError (as Twilio's 12100 "document parse failure") otherwise. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: "#document", attributes: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  const top = () => stack[stack.length - 1]!;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const textEnd = lt === -1 ? xml.length : lt;
    if (textEnd > i) {
      const text = xml.slice(i, textEnd);
      if (stack.length === 1) {
        if (text.trim()) throw new TwimlError("text outside the root element");
      } else top().text += decodeEntities(text);
    }
    if (lt === -1) break;
    if (xml.startsWith("<?", lt)) {
      const end = xml.indexOf("?>", lt);
      if (end === -1) throw new TwimlError("unterminated processing instruction");
      i = end + 2;
    } else if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt);
      if (end === -1) throw new TwimlError("unterminated comment");
      i = end + 3;
    } else if (xml.startsWith("<![CDATA[", lt)) {
      const end = xml.indexOf("]]>", lt);
      if (end === -1) throw new TwimlError("unterminated CDATA");
      top().text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml.startsWith("<!", lt)) {
      const end = xml.indexOf(">", lt);
      if (end === -1) throw new TwimlError("unterminated declaration");
      i = end + 1;
    } else if (xml.startsWith("</", lt)) {
      const end = xml.indexOf(">", lt);
      if (end === -1) throw new TwimlError("unterminated closing tag");
      const name = xml.slice(lt + 2, end).trim();
      const open = stack.pop();
      if (!open || open === root || open.name !== name) {
        throw new TwimlError(`closing tag </${name}> does not match <${open?.name ?? ""}>`);
      }
      i = end + 1;
    } else {
      const tag = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(
        xml.slice(lt),
      );
      if (!tag) throw new TwimlError(`malformed tag at offset ${lt}`);
      const [whole, name = "", attrText = "", selfClose] = tag;
      const attributes: Record<string, string> = {};
      for (const a of attrText.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        attributes[a[1]!] = decodeEntities(a[2] ?? a[3] ?? "");
      }
      const el: XmlElement = { name, attributes, children: [], text: "" };
      if (stack.length === 1 && root.children.length > 0) throw new TwimlError("more than one root element");
      top().children.push(el);
      if (!selfClose) stack.push(el);
      i = lt + whole.length;
    }
  }
  if (stack.length > 1) throw new TwimlError(`<${top().name}> is never closed`);
  const doc = root.children[0];
  if (!doc) throw new TwimlError("empty document");
  return doc;
}

export type TwimlVerb =
  | { verb: "Say"; text: string; voice?: string; language?: string }
  | { verb: "Play"; url: string }
  | { verb: "Pause"; lengthSeconds: number }
  | { verb: "Hangup" }
  | { verb: "Reject"; reason: string }
  | { verb: "Redirect"; url: string }
  | {
      verb: "Connect";
      stream: {
        url: string;
        name?: string;
        track?: string;
        statusCallback?: string;
        statusCallbackMethod?: string;
        parameters: Record<string, string>;
      } | null;
    }
  /** A verb this reader does not model (Gather, Dial, Record…), kept by name. */
  | { verb: "Other"; name: string; attributes: Record<string, string>; text: string };

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

function toVerb(el: XmlElement): TwimlVerb {
  const a = el.attributes;
  switch (el.name) {
    case "Say":
      return { verb: "Say", text: el.text.trim(), ...optional("voice", a.voice), ...optional("language", a.language) };
    case "Play":
      return { verb: "Play", url: el.text.trim() };
    case "Pause":
      return { verb: "Pause", lengthSeconds: Number(a.length ?? "1") };
    case "Hangup":
      return { verb: "Hangup" };
    case "Reject":
      return { verb: "Reject", reason: a.reason ?? "rejected" };
    case "Redirect":
      return { verb: "Redirect", url: el.text.trim() };
    case "Connect": {
      const s = el.children.find((c) => c.name === "Stream");
      if (!s) return { verb: "Connect", stream: null };
      const url = s.attributes.url;
      if (!url) throw new TwimlError("<Stream> without a url attribute");
      const parameters: Record<string, string> = {};
      for (const p of s.children) {
        if (p.name !== "Parameter") continue;
        const name = p.attributes.name;
        if (name === undefined) throw new TwimlError("<Parameter> without a name attribute");
        parameters[name] = p.attributes.value ?? "";
      }
      return {
        verb: "Connect",
        stream: {
          url,
          ...optional("name", s.attributes.name),
          ...optional("track", s.attributes.track),
          ...optional("statusCallback", s.attributes.statusCallback),
          ...optional("statusCallbackMethod", s.attributes.statusCallbackMethod),
          parameters,
        },
      };
    }
    default:
      return { verb: "Other", name: el.name, attributes: a, text: el.text.trim() };
  }
}

/** The verbs of a TwiML `<Response>`, in order. */
export function parseTwiml(xml: string): TwimlVerb[] {
  const doc = parseXml(xml);
  if (doc.name !== "Response") throw new TwimlError(`root element is <${doc.name}>, not <Response>`);
  return doc.children.map(toVerb);
}
