// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPullPayments} from "../interfaces/IPullPayments.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";

/// @title Attacker for tests: an employer whose receive() re-enters withdraw()
contract ReentrantWithdrawer {
    IJobEscrow public immutable target;
    uint256 public reentries;
    bool public reentrySucceeded;
    bool public refuse; // when set, receiving fails (to test TransferFailed)

    constructor(IJobEscrow target_) {
        target = target_;
    }

    function createJob(IJobEscrow.JobParams calldata params) external payable returns (uint256) {
        return target.createJob{value: msg.value}(params);
    }

    function reclaim(uint256 jobId) external {
        target.reclaim(jobId);
    }

    function setRefuse(bool refuse_) external {
        refuse = refuse_;
    }

    function attack() external {
        target.withdraw();
    }

    receive() external payable {
        if (refuse) revert();
        if (reentries == 0) {
            reentries = 1;
            // a second withdraw inside the first must fail; swallow it to observe the result
            try IPullPayments(address(target)).withdraw() {
                reentrySucceeded = true;
            } catch {}
        }
    }
}
