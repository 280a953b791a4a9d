// A camera's latest frame as the pages show it: StreamHealth.GetSnapshot answers the JPEG's bytes in base64 inside its
// JSON; the page turns them into a blob: URL (the CSP allows images from blob:) that its caller revokes when the
// picture leaves the page. A 404 (no frame grabbed yet) is the caller's to word.
import { getJson } from './api';

export interface Snapshot { jpeg?: string; takenAt?: string }

export const readSnapshot = (deviceId: string) =>
  getJson<Snapshot>(`/api/v1/streamHealth/cameras/${encodeURIComponent(deviceId)}/snapshot`);

/** A blob: URL of the frame's JPEG; the caller revokes it. */
export function jpegUrl(jpegBase64: string): string {
  const bytes = Uint8Array.from(atob(jpegBase64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
}
