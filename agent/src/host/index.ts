/** Host resources a VM needs besides its VMM: images, disks, seed, TAPs, console log, tools. */
export * from "./cloud-init";
export * from "./console-log";
export * from "./disks";
export * from "./exec";
export * from "./images";
export * from "./network";
export * from "./tools";
