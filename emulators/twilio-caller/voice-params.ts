// The form params of Twilio's inbound voice webhook, as a ringing call sends them (with FromCountry and ToCountry
// read from the numbers).

// E.164 country calling codes → ISO country, longest prefix first; enough for realistic FromCountry/ToCountry.
const COUNTRY_CODES: [string, string][] = (
  [
    ["1", "US"],
    ["7", "RU"],
    ["20", "EG"],
    ["27", "ZA"],
    ["30", "GR"],
    ["31", "NL"],
    ["32", "BE"],
    ["33", "FR"],
    ["34", "ES"],
    ["36", "HU"],
    ["39", "IT"],
    ["40", "RO"],
    ["41", "CH"],
    ["43", "AT"],
    ["44", "GB"],
    ["45", "DK"],
    ["46", "SE"],
    ["47", "NO"],
    ["48", "PL"],
    ["49", "DE"],
    ["52", "MX"],
    ["54", "AR"],
    ["55", "BR"],
    ["56", "CL"],
    ["57", "CO"],
    ["60", "MY"],
    ["61", "AU"],
    ["62", "ID"],
    ["63", "PH"],
    ["64", "NZ"],
    ["65", "SG"],
    ["66", "TH"],
    ["81", "JP"],
    ["82", "KR"],
    ["84", "VN"],
    ["86", "CN"],
    ["90", "TR"],
    ["91", "IN"],
    ["234", "NG"],
    ["254", "KE"],
    ["351", "PT"],
    ["352", "LU"],
    ["353", "IE"],
    ["358", "FI"],
    ["420", "CZ"],
    ["852", "HK"],
    ["886", "TW"],
    ["966", "SA"],
    ["971", "AE"],
    ["972", "IL"],
  ] as [string, string][]
).sort((a, b) => b[0].length - a[0].length);

/** ISO country of an E.164 number ("+447700900123" → "GB"), or undefined. */
export function countryOf(e164: string): string | undefined {
  const digits = /^\+(\d+)$/.exec(e164)?.[1];
  if (!digits) return undefined;
  return COUNTRY_CODES.find(([code]) => digits.startsWith(code))?.[1];
}

/** The form params of Twilio's inbound voice webhook for a ringing call. */
export function voiceWebhookParams(o: {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
}): Record<string, string> {
  const fromCountry = countryOf(o.from) ?? "";
  const toCountry = countryOf(o.to) ?? "";
  return {
    AccountSid: o.accountSid,
    ApiVersion: "2010-04-01",
    CallSid: o.callSid,
    CallStatus: "ringing",
    Called: o.to,
    CalledCity: "",
    CalledCountry: toCountry,
    CalledState: "",
    CalledZip: "",
    Caller: o.from,
    CallerCity: "",
    CallerCountry: fromCountry,
    CallerState: "",
    CallerZip: "",
    Direction: "inbound",
    From: o.from,
    FromCity: "",
    FromCountry: fromCountry,
    FromState: "",
    FromZip: "",
    To: o.to,
    ToCity: "",
    ToCountry: toCountry,
    ToState: "",
    ToZip: "",
  };
}
