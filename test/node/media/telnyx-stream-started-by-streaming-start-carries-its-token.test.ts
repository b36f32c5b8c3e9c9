// A Telnyx call whose node was lost gets a new stream from `actions/streaming_start`, with the resume token in
// `client_state` as the edge encodes it (base64 of {"callId","token"}); Telnyx repeats it in the new stream's `start`.
// The node must find the token there, exactly as for a stream started by `actions/answer`.
import { expect, test } from "vitest";
import { TelnyxCodec } from "../../../media-nodes/src/transports/telnyx.ts";
import type { InboundEvent } from "../../../media-nodes/src/transports/types.ts";
import { encodeClientState, startStream } from "../../../workers/src/telephony/telnyx.ts";

const decodeStart = (clientState: string): InboundEvent[] => {
  const events: InboundEvent[] = [];
  const start = {
    event: "start",
    sequence_number: "1",
    stream_id: "3b4f6c1e-0000-4000-8000-000000000001",
    start: {
      call_control_id: "v3:lost-node-call",
      client_state: clientState,
      media_format: { encoding: "PCMU", sample_rate: 8000, channels: 1 },
    },
  };
  new TelnyxCodec().decode(new TextEncoder().encode(JSON.stringify(start)).buffer as ArrayBuffer, false, (e) =>
    events.push(e),
  );
  return events;
};

test("the resume token sent in streaming_start's client_state is the token of the new stream's start", () => {
  const token = "v1.resume-token-payload.signature";
  const command = startStream("v3:lost-node-call", {
    url: "wss://node-b.example/v1/telephony/telnyx",
    clientState: encodeClientState({ callId: "call_abc", token }),
  });
  expect(command.path).toBe("/v2/calls/v3%3Alost-node-call/actions/streaming_start");
  const [start] = decodeStart(String(command.body.client_state));
  expect(start).toMatchObject({ type: "start", token, callRef: "v3:lost-node-call" });
});

test("a client_state not in the edge's shape is taken as the raw token, for admission to judge", () => {
  const [start] = decodeStart(Buffer.from("not json at all").toString("base64"));
  // Taken as the raw token: admission then refuses it as malformed (4401), nothing else is trusted.
  expect(start).toMatchObject({ type: "start", token: "not json at all" });
});
