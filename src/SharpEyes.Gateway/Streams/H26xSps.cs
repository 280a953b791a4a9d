namespace SharpEyes.Gateway.Streams;

/// <summary>
/// The picture size an H.264 or H.265 sequence parameter set declares (after cropping), read from the SDP's
/// sprop-parameter-sets / sprop-sps: a camera's SDP often carries no other statement of its resolution.
/// </summary>
internal static class H26xSps
{
    /// <summary>High profiles carry chroma format, bit depths and scaling lists before the common fields.</summary>
    private static readonly HashSet<int> H264HighProfiles = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

    /// <summary>Width and height of an H.264 SPS NAL unit (header byte included), or null when it is not one or is cut short.</summary>
    public static (int Width, int Height)? DecodeH264(ReadOnlySpan<byte> nal)
    {
        if (nal.Length < 4 || (nal[0] & 0x1F) != 7)
        {
            return null;
        }

        var r = new BitReader(Unescape(nal[1..]));
        try
        {
            var profile = r.Bits(8);
            r.Skip(16); // constraint flags, level_idc
            r.Ue(); // seq_parameter_set_id
            var chroma = 1;
            var separatePlanes = false;
            if (H264HighProfiles.Contains(profile))
            {
                chroma = r.Ue();
                if (chroma == 3)
                {
                    separatePlanes = r.Bit();
                }

                r.Ue(); // bit_depth_luma_minus8
                r.Ue(); // bit_depth_chroma_minus8
                r.Skip(1); // qpprime_y_zero_transform_bypass_flag
                if (r.Bit())
                {
                    for (var i = 0; i < (chroma == 3 ? 12 : 8); i++)
                    {
                        if (r.Bit())
                        {
                            SkipScalingList(ref r, i < 6 ? 16 : 64);
                        }
                    }
                }
            }

            r.Ue(); // log2_max_frame_num_minus4
            switch (r.Ue())
            {
                case 0:
                    r.Ue(); // log2_max_pic_order_cnt_lsb_minus4
                    break;
                case 1:
                    r.Skip(1);
                    r.Se();
                    r.Se();
                    for (var n = r.Ue(); n > 0; n--)
                    {
                        r.Se();
                    }

                    break;
            }

            r.Ue(); // max_num_ref_frames
            r.Skip(1); // gaps_in_frame_num_value_allowed_flag
            var widthMbs = r.Ue() + 1;
            var heightMapUnits = r.Ue() + 1;
            var frameMbsOnly = r.Bit();
            if (!frameMbsOnly)
            {
                r.Skip(1); // mb_adaptive_frame_field_flag
            }

            r.Skip(1); // direct_8x8_inference_flag
            var fieldFactor = frameMbsOnly ? 1 : 2;
            int left = 0, right = 0, top = 0, bottom = 0;
            if (r.Bit())
            {
                (left, right, top, bottom) = (r.Ue(), r.Ue(), r.Ue(), r.Ue());
            }

            // Cropping counts chroma samples (H.264 7.4.2.1.1), and frame pairs when the stream codes fields.
            var (subWidth, subHeight) = Subsampling(chroma, separatePlanes);
            var width = widthMbs * 16 - subWidth * (left + right);
            var height = fieldFactor * heightMapUnits * 16 - subHeight * fieldFactor * (top + bottom);
            return Plausible(width, height);
        }
        catch (EndOfSpsException)
        {
            return null;
        }
    }

    /// <summary>Width and height of an H.265 SPS NAL unit (two header bytes included), or null when it is not one or is cut short.</summary>
    public static (int Width, int Height)? DecodeH265(ReadOnlySpan<byte> nal)
    {
        if (nal.Length < 4 || ((nal[0] >> 1) & 0x3F) != 33)
        {
            return null;
        }

        var r = new BitReader(Unescape(nal[2..]));
        try
        {
            r.Skip(4); // sps_video_parameter_set_id
            var subLayers = r.Bits(3); // sps_max_sub_layers_minus1
            r.Skip(1); // sps_temporal_id_nesting_flag
            SkipProfileTierLevel(ref r, subLayers);
            r.Ue(); // sps_seq_parameter_set_id
            var chroma = r.Ue();
            var separatePlanes = chroma == 3 && r.Bit();
            var width = r.Ue();
            var height = r.Ue();
            if (r.Bit())
            {
                var (left, right, top, bottom) = (r.Ue(), r.Ue(), r.Ue(), r.Ue());
                // The conformance window counts chroma samples (H.265 7.4.3.2.1).
                var (subWidth, subHeight) = Subsampling(chroma, separatePlanes);
                width -= subWidth * (left + right);
                height -= subHeight * (top + bottom);
            }

            return Plausible(width, height);
        }
        catch (EndOfSpsException)
        {
            return null;
        }
    }

    /// <summary>SubWidthC and SubHeightC: 4:2:0 halves both, 4:2:2 the width; monochrome, 4:4:4 and separate planes neither.</summary>
    private static (int Width, int Height) Subsampling(int chromaFormat, bool separatePlanes) =>
        separatePlanes ? (1, 1) : chromaFormat switch { 1 => (2, 2), 2 => (2, 1), _ => (1, 1) };

    private static (int Width, int Height)? Plausible(int width, int height) =>
        width is > 0 and <= 16384 && height is > 0 and <= 16384 ? (width, height) : null;

    private static void SkipScalingList(ref BitReader r, int size)
    {
        int last = 8, next = 8;
        for (var j = 0; j < size && next != 0; j++)
        {
            next = (last + r.Se() + 256) % 256;
            last = next == 0 ? last : next;
        }
    }

    private static void SkipProfileTierLevel(ref BitReader r, int subLayers)
    {
        r.Skip(88); // profile space, tier, profile, compatibility flags, constraint flags
        r.Skip(8); // general_level_idc
        Span<bool> profilePresent = stackalloc bool[8];
        Span<bool> levelPresent = stackalloc bool[8];
        for (var i = 0; i < subLayers; i++)
        {
            profilePresent[i] = r.Bit();
            levelPresent[i] = r.Bit();
        }

        if (subLayers > 0)
        {
            r.Skip(2 * (8 - subLayers)); // reserved_zero_2bits up to eight sub-layers
        }

        for (var i = 0; i < subLayers; i++)
        {
            r.Skip((profilePresent[i] ? 88 : 0) + (levelPresent[i] ? 8 : 0));
        }
    }

    /// <summary>Drops the emulation-prevention byte of every 00 00 03 sequence, which is not part of the syntax.</summary>
    private static byte[] Unescape(ReadOnlySpan<byte> payload)
    {
        var output = new byte[payload.Length];
        int n = 0, zeros = 0;
        foreach (var b in payload)
        {
            if (zeros >= 2 && b == 3)
            {
                zeros = 0;
                continue;
            }

            zeros = b == 0 ? zeros + 1 : 0;
            output[n++] = b;
        }

        return output[..n];
    }

    private sealed class EndOfSpsException : Exception;

    /// <summary>MSB-first bits and Exp-Golomb codes; running off the end throws, which the decoders turn into null.</summary>
    private ref struct BitReader(byte[] data)
    {
        private int _bit;

        public bool Bit()
        {
            if (_bit >= data.Length * 8)
            {
                throw new EndOfSpsException();
            }

            var value = (data[_bit >> 3] >> (7 - (_bit & 7))) & 1;
            _bit++;
            return value == 1;
        }

        public int Bits(int count)
        {
            var value = 0;
            for (var i = 0; i < count; i++)
            {
                value = (value << 1) | (Bit() ? 1 : 0);
            }

            return value;
        }

        public void Skip(int count)
        {
            if (_bit + count > data.Length * 8)
            {
                throw new EndOfSpsException();
            }

            _bit += count;
        }

        public int Ue()
        {
            var zeros = 0;
            while (!Bit())
            {
                if (++zeros > 30)
                {
                    throw new EndOfSpsException(); // no valid SPS field is this large: garbage
                }
            }

            return (1 << zeros) - 1 + Bits(zeros);
        }

        public int Se()
        {
            var k = Ue();
            return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
        }
    }
}
