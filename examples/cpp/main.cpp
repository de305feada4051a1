// run-deployed: runs the early-exit module of a `persephonee export-torchscript` folder with LibTorch.
//
//   run-deployed DIR INPUTS.npy
//
// INPUTS.npy holds float32 images already decoded and normalised as deploy.json's "input" says, shape [N, C, H, W]
// (tools/run-deployed.py --save-inputs writes one from image files). For each image it prints one line:
//   index <TAB> label <TAB> confidence <TAB> exit (stage name, or "final") <TAB> milliseconds
// One thread, batch 1: the module returns at the first exit whose confidence reaches its threshold.
#include <torch/script.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

static torch::Tensor read_npy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot be read");
    char magic[6];
    in.read(magic, 6);
    if (std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error(path + ": not a .npy file");
    unsigned char version[2];
    in.read(reinterpret_cast<char*>(version), 2);
    uint32_t header_len = 0;
    if (version[0] == 1) {
        unsigned char len[2];
        in.read(reinterpret_cast<char*>(len), 2);
        header_len = len[0] | (len[1] << 8);
    } else {
        unsigned char len[4];
        in.read(reinterpret_cast<char*>(len), 4);
        header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
    }
    std::string header(header_len, ' ');
    in.read(&header[0], header_len);
    if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
        throw std::runtime_error(path + ": needs little-endian float32 in C order");
    }
    std::smatch m;
    if (!std::regex_search(header, m, std::regex("\\(([0-9, ]+)\\)"))) throw std::runtime_error(path + ": no shape");
    std::vector<int64_t> shape;
    std::string dims = m[1];
    std::regex num("[0-9]+");
    for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
        shape.push_back(std::stoll(it->str()));
    }
    if (shape.size() != 4) throw std::runtime_error(path + ": shape must be [N, C, H, W]");
    torch::Tensor t = torch::empty(shape, torch::kFloat32);
    in.read(reinterpret_cast<char*>(t.data_ptr<float>()), t.numel() * sizeof(float));
    if (!in) throw std::runtime_error(path + ": ends early");
    return t;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: run-deployed DIR INPUTS.npy" << std::endl;
        return 2;
    }
    try {
        at::set_num_threads(1);
        torch::jit::script::Module module = torch::jit::load(std::string(argv[1]) + "/model.pt");
        module.eval();
        auto labels = module.attr("labels").toList();
        auto stages = module.attr("exit_stages").toList();
        torch::Tensor x = read_npy(argv[2]);
        torch::NoGradGuard no_grad;
        for (int64_t i = 0; i < x.size(0); i++) {
            std::vector<torch::jit::IValue> in{x.slice(0, i, i + 1)};
            auto t0 = std::chrono::steady_clock::now();
            auto out = module.forward(in).toTuple();
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            int64_t label = out->elements()[0].toInt();
            double confidence = out->elements()[1].toDouble();
            int64_t exit = out->elements()[2].toInt();
            std::string where = exit < static_cast<int64_t>(stages.size())
                    ? stages.get(exit).toStringRef() : std::string("final");
            std::printf("%lld\t%s\t%.6f\t%s\t%.3f\n", static_cast<long long>(i), labels.get(label).toStringRef().c_str(),
                        confidence, where.c_str(), ms);
        }
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
