global using Google.Protobuf;
global using Microsoft.Extensions.Logging;
global using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
