import { FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { runTtsBehaviour } from "./tts.behaviour.ts";

// 480 bytes per character is about the pace of real speech (60 ms per character); a small first-byte
// delay lets clear() land while audio is still streaming, as it does against the vendor.
runTtsBehaviour("fake", async () => new FakeTts({ bytesPerChar: 480, firstByteMs: 5 }));
