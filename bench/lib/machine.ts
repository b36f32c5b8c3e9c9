// The machine a benchmark ran on, recorded next to every figure: numbers without the box they came from
// cannot be compared.
import { spawnSync } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  platform: string;
  kernel: string;
  /** Cores this process may run on (taskset), null where taskset is unavailable. */
  affinity: string | null;
  /** 1-minute load average when the run began: other work on a shared box shows up here. */
  loadAverageAtStart: number;
}

function lscpuModel(): string | null {
  const r = spawnSync("lscpu", [], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const line = r.stdout.split("\n").find((l) => l.startsWith("Model name:"));
  return line ? line.slice("Model name:".length).trim() : null;
}

export function currentAffinity(pid: number = process.pid): string | null {
  const r = spawnSync("taskset", ["-pc", String(pid)], { encoding: "utf8" });
  if (r.status !== 0) return null;
  return r.stdout.split(":").pop()?.trim() ?? null;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model?.trim() || lscpuModel() || "unknown",
    cores: list.length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    affinity: currentAffinity(),
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
