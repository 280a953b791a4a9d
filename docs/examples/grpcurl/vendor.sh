#!/bin/sh
# grpcurl against a SharpEyes gateway: list what it serves, register one camera, read it back.
# Needs grpcurl (https://github.com/fullstorydev/grpcurl) and a vendor key:
#   SHARPEYES_SERVER=http://127.0.0.1:50051 SHARPEYES_API_KEY=se_... sh vendor.sh
# -plaintext: the gateway serves gRPC over plain HTTP/2. -H sends the key with every call, reflection included
# (reflection describes the API to any valid key, so no .proto files are needed here).
set -eu
server=${SHARPEYES_SERVER:-http://127.0.0.1:50051}
server=${server#http://} # grpcurl takes host:port
auth="authorization: Bearer $SHARPEYES_API_KEY"

# The services, and the methods and messages of one of them.
grpcurl -plaintext -H "$auth" "$server" list
grpcurl -plaintext -H "$auth" "$server" describe sharpeyes.v1.DeviceRegistry
grpcurl -plaintext -H "$auth" "$server" describe sharpeyes.v1.CameraSpec

# Register one camera (field names as in the .proto files; enums by name).
grpcurl -plaintext -H "$auth" -d '{
  "device_id": "13012700001320000001",
  "kind": "DEVICE_KIND_CAMERA",
  "name": "东门枪机",
  "model": "DS-2CD2T47",
  "position": {"lon": 114.603, "lat": 37.606, "datum": "DATUM_WGS84"},
  "camera": {
    "azimuth_deg": 90,
    "hfov_deg": 90,
    "range_m": 60,
    "mount_height_m": 6,
    "rtsp_url": "rtsp://viewer:change-me@192.0.2.10:554/Streaming/Channels/101"
  }
}' "$server" sharpeyes.v1.DeviceRegistry/RegisterDevice

# Read it back: in WGS-84, without the RTSP credentials ("hasRtspCredentials": true says they are stored).
grpcurl -plaintext -H "$auth" -d '{"device_id": "13012700001320000001"}' "$server" sharpeyes.v1.DeviceRegistry/GetDevice
